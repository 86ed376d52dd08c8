/* qsort and bsearch on integers, doubles, strings and structs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned state = 12345;
static unsigned rnd(void) { state = state * 1103515245u + 12345u; return state >> 8; }

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}
static int cmp_dbl(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}
struct rec { int key; char name[8]; };
static int cmp_rec(const void *a, const void *b) {
    const struct rec *x = a, *y = b;
    if (x->key != y->key) return x->key - y->key;
    return strcmp(x->name, y->name);
}

int main(void) {
    enum { N = 5000 };
    int *a = malloc(N * sizeof *a);
    for (int i = 0; i < N; i++) a[i] = (int)(rnd() % 100000) - 50000;
    qsort(a, N, sizeof *a, cmp_int);
    long long sum = 0;
    for (int i = 0; i < N; i++) sum += (long long)a[i] * (i + 1);
    printf("ints min=%d max=%d weighted=%lld\n", a[0], a[N - 1], sum);
    int key = a[N / 3];
    int *hit = bsearch(&key, a, N, sizeof *a, cmp_int);
    printf("bsearch %d found=%d\n", key, hit != NULL && *hit == key);
    double d[200];
    for (int i = 0; i < 200; i++) d[i] = (double)rnd() / 1000.0 - 5000.0;
    qsort(d, 200, sizeof d[0], cmp_dbl);
    printf("dbl %.3f %.3f %.3f\n", d[0], d[100], d[199]);
    const char *words[] = {"pear", "apple", "fig", "banana", "cherry", "date", "kiwi", "lime"};
    qsort(words, 8, sizeof words[0], cmp_str);
    for (int i = 0; i < 8; i++) printf("%s%c", words[i], i == 7 ? '\n' : ' ');
    struct rec r[50];
    for (int i = 0; i < 50; i++) { r[i].key = rnd() % 10; snprintf(r[i].name, 8, "n%u", rnd() % 1000); }
    qsort(r, 50, sizeof r[0], cmp_rec);
    for (int i = 0; i < 50; i += 7) printf("%d:%s ", r[i].key, r[i].name);
    printf("\n");
    free(a);
    return 0;
}
