/* Exit codes: exit() from deep in the program with atexit handlers, output on stderr. */
#include <stdio.h>
#include <stdlib.h>

static void bye(void) { printf("atexit ran\n"); }

static void deep(int n) {
    if (n == 0) {
        fprintf(stderr, "leaving with 17\n");
        exit(17);
    }
    deep(n - 1);
}

int main(void) {
    atexit(bye);
    printf("before\n");
    fprintf(stderr, "warning: about to exit\n");
    deep(50);
    printf("not reached\n");
    return 0;
}
