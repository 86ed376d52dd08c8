/* Arguments and environment; the exit code is computed from them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

int main(int argc, char **argv) {
    printf("argc=%d\n", argc);
    for (int i = 1; i < argc; i++) printf("argv[%d]=%s (%zu)\n", i, argv[i], strlen(argv[i]));
    const char *g = getenv("GREETING");
    printf("GREETING=%s\n", g ? g : "(unset)");
    printf("MISSING=%s\n", getenv("MISSING") ? "set" : "(unset)");
    int n = 0;
    for (char **e = environ; *e; e++) n++;
    printf("environ count=%d\n", n);
    return argc + 40;
}
