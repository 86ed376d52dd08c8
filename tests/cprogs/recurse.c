/* Recursion: Fibonacci, Ackermann, Hanoi, N-queens, mutual recursion, a recursive parser. */
#include <stdio.h>

static long fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
static int ack(int m, int n) {
    if (m == 0) return n + 1;
    if (n == 0) return ack(m - 1, 1);
    return ack(m - 1, ack(m, n - 1));
}
static long hanoi(int n, int from, int to, int via) {
    if (n == 0) return 0;
    return hanoi(n - 1, from, via, to) + 1 + hanoi(n - 1, via, to, from);
}
static int queens(int n, int row, int cols, int d1, int d2) {
    if (row == n) return 1;
    int count = 0;
    for (int c = 0; c < n; c++) {
        if (cols & (1 << c) || d1 & (1 << (row + c)) || d2 & (1 << (row - c + n))) continue;
        count += queens(n, row + 1, cols | 1 << c, d1 | 1 << (row + c), d2 | 1 << (row - c + n));
    }
    return count;
}
static int is_odd(unsigned n);
static int is_even(unsigned n) { return n == 0 ? 1 : is_odd(n - 1); }
static int is_odd(unsigned n) { return n == 0 ? 0 : is_even(n - 1); }

static const char *p;
static double expr(void);
static double atom(void) {
    if (*p == '(') { p++; double v = expr(); p++; return v; }
    double v = 0;
    while (*p >= '0' && *p <= '9') v = v * 10 + (*p++ - '0');
    return v;
}
static double term(void) {
    double v = atom();
    while (*p == '*' || *p == '/') { char op = *p++; double r = atom(); v = op == '*' ? v * r : v / r; }
    return v;
}
static double expr(void) {
    double v = term();
    while (*p == '+' || *p == '-') { char op = *p++; double r = term(); v = op == '+' ? v + r : v - r; }
    return v;
}

int main(void) {
    printf("fib(25)=%ld\n", fib(25));
    printf("ack(2,3)=%d ack(3,4)=%d\n", ack(2, 3), ack(3, 4));
    printf("hanoi(16)=%ld\n", hanoi(16, 1, 3, 2));
    for (int n = 4; n <= 8; n++) printf("queens(%d)=%d\n", n, queens(n, 0, 0, 0, 0));
    printf("even(1001)=%d odd(1001)=%d\n", is_even(1001), is_odd(1001));
    p = "(1+2)*(3+4*(5-2))/7-10/4";
    printf("expr=%.6f\n", expr());
    return 0;
}
