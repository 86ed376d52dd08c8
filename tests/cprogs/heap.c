/* malloc-heavy linked structures: lists, a binary search tree, a hash table, realloc. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct node { struct node *next; long value; };
struct tree { struct tree *l, *r; int key; int count; };
struct entry { struct entry *next; char *key; int value; };

static struct tree *insert(struct tree *t, int key) {
    if (!t) { t = calloc(1, sizeof *t); t->key = key; t->count = 1; return t; }
    if (key < t->key) t->l = insert(t->l, key);
    else if (key > t->key) t->r = insert(t->r, key);
    else t->count++;
    return t;
}
static int height(struct tree *t) {
    if (!t) return 0;
    int a = height(t->l), b = height(t->r);
    return 1 + (a > b ? a : b);
}
static long inorder(struct tree *t, long acc) {
    if (!t) return acc;
    acc = inorder(t->l, acc);
    acc = acc * 31 + t->key * t->count;
    return inorder(t->r, acc);
}
static void free_tree(struct tree *t) {
    if (t) { free_tree(t->l); free_tree(t->r); free(t); }
}

int main(void) {
    struct node *head = NULL;
    for (long i = 0; i < 20000; i++) {
        struct node *n = malloc(sizeof *n);
        n->value = i * i % 1009;
        n->next = head;
        head = n;
    }
    /* delete every third node */
    struct node **pp = &head;
    long k = 0;
    while (*pp) {
        if (k++ % 3 == 0) { struct node *d = *pp; *pp = d->next; free(d); }
        else pp = &(*pp)->next;
    }
    long sum = 0, len = 0;
    for (struct node *n = head; n; n = n->next) { sum += n->value; len++; }
    printf("list len=%ld sum=%ld\n", len, sum);
    while (head) { struct node *n = head; head = n->next; free(n); }

    struct tree *root = NULL;
    unsigned s = 7;
    for (int i = 0; i < 5000; i++) { s = s * 1664525u + 1013904223u; root = insert(root, (int)(s >> 20)); }
    printf("tree height=%d hash=%ld\n", height(root), inorder(root, 0));
    free_tree(root);

    enum { B = 101 };
    struct entry *table[B] = {0};
    char word[16];
    for (int i = 0; i < 3000; i++) {
        snprintf(word, sizeof word, "w%d", (i * 7919) % 1234);
        unsigned h = 0;
        for (char *p = word; *p; p++) h = h * 131 + (unsigned char)*p;
        struct entry *e = table[h % B];
        while (e && strcmp(e->key, word)) e = e->next;
        if (!e) { e = malloc(sizeof *e); e->key = strdup(word); e->value = 0; e->next = table[h % B]; table[h % B] = e; }
        e->value++;
    }
    int distinct = 0, maxv = 0;
    for (int b = 0; b < B; b++)
        for (struct entry *e = table[b], *nx; e; e = nx) {
            nx = e->next; distinct++; if (e->value > maxv) maxv = e->value;
            free(e->key); free(e);
        }
    printf("hash distinct=%d max=%d\n", distinct, maxv);

    int *v = NULL;
    size_t cap = 0, n = 0;
    for (int i = 0; i < 100000; i++) {
        if (n == cap) { cap = cap ? cap * 2 : 4; v = realloc(v, cap * sizeof *v); }
        v[n++] = i ^ (i >> 3);
    }
    long long t = 0;
    for (size_t i = 0; i < n; i++) t += v[i];
    printf("vector n=%zu cap=%zu total=%lld\n", n, cap, t);
    free(v);
    return 0;
}
