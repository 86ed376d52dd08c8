/* File I/O in the preopened directory ".": write, append, seek, read back, rename,
   directories, listing, unlink.  Leaves out.txt and dir/ behind for comparison. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int cmp(const void *a, const void *b) { return strcmp(*(char **)a, *(char **)b); }

int main(void) {
    FILE *f = fopen("tmp.txt", "w");
    if (!f) { perror("fopen tmp.txt"); return 1; }
    for (int i = 0; i < 100; i++) fprintf(f, "line %d: %d\n", i, i * i);
    fclose(f);
    f = fopen("tmp.txt", "a");
    fputs("appended\n", f);
    fclose(f);
    f = fopen("tmp.txt", "r");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 10, SEEK_SET);
    char buf[32] = {0};
    fread(buf, 1, 12, f);
    int lines = 0, c;
    rewind(f);
    while ((c = fgetc(f)) != EOF) lines += c == '\n';
    fclose(f);
    printf("size=%ld at10=[%s] lines=%d\n", size, buf, lines);
    struct stat st;
    if (stat("tmp.txt", &st) == 0) printf("stat size=%lld reg=%d\n", (long long)st.st_size, S_ISREG(st.st_mode));
    if (rename("tmp.txt", "out.txt") != 0) perror("rename");
    printf("old gone=%d\n", access("tmp.txt", F_OK) != 0 && errno == ENOENT);
    if (mkdir("dir", 0755) != 0) perror("mkdir");
    printf("mkdir again=%d errno_eexist=%d\n", mkdir("dir", 0755), errno == EEXIST);
    for (int i = 0; i < 5; i++) {
        char name[32];
        snprintf(name, sizeof name, "dir/f%d.dat", i);
        FILE *g = fopen(name, "wb");
        for (int k = 0; k <= i; k++) fputc('a' + k, g);
        fclose(g);
    }
    unlink("dir/f2.dat");
    DIR *d = opendir("dir");
    char *names[16];
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) && n < 16)
        if (e->d_name[0] != '.') names[n++] = strdup(e->d_name);
    if (d) closedir(d);
    qsort(names, n, sizeof names[0], cmp);
    for (int i = 0; i < n; i++) { printf("entry %s\n", names[i]); free(names[i]); }
    mkdir("empty", 0755);
    printf("rmdir=%d rmdir_nonempty=%d\n", rmdir("empty"), rmdir("dir") == 0);
    printf("open missing=%d\n", fopen("missing/x", "r") == NULL);
    printf("escape=%d\n", fopen("../outside.txt", "w") == NULL);
    return 0;
}
