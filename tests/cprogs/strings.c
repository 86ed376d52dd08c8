/* String handling: the C library's string functions and conversions. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void reverse(char *s) {
    for (size_t i = 0, j = strlen(s); i + 1 < j; i++, j--) {
        char t = s[i]; s[i] = s[j - 1]; s[j - 1] = t;
    }
}

int main(void) {
    char text[] = "the quick brown fox jumps over the lazy dog, 42 times; -17 and 3.5e2!";
    printf("len=%zu\n", strlen(text));
    char copy[128];
    strcpy(copy, text);
    for (char *tok = strtok(copy, " ,;!"); tok; tok = strtok(NULL, " ,;!")) {
        char *end;
        long v = strtol(tok, &end, 10);
        if (*end == '\0') printf("int %ld\n", v);
        else if (strchr(tok, '.')) printf("float %g\n", strtod(tok, NULL));
        else { reverse(tok); printf("word %s\n", tok); }
    }
    printf("strstr=%s\n", strstr(text, "lazy"));
    printf("cmp=%d %d %d\n", strcmp("abc", "abd") < 0, strcmp("b", "a") > 0, strncmp("abcx", "abcy", 3));
    char up[128];
    size_t i;
    for (i = 0; text[i]; i++) up[i] = (char)toupper((unsigned char)text[i]);
    up[i] = 0;
    puts(up);
    char cat[64] = "foo";
    strcat(cat, "-bar");
    strncat(cat, "-bazqux", 4);
    printf("%s %zu %zu\n", cat, strspn(cat, "fo"), strcspn(cat, "-"));
    char *dup = strdup(cat);
    memmove(dup + 2, dup, 5);
    printf("%s\n", dup);
    free(dup);
    unsigned h = 5381;
    for (const char *p = text; *p; p++) h = h * 33 + (unsigned char)*p;
    printf("hash=%u\n", h);
    printf("atoi=%d strtoul=%lu\n", atoi("  -123xyz"), strtoul("ff", NULL, 16));
    return 0;
}
