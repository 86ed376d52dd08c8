/* Formatted output of integers and floats. */
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>

int main(void) {
    int ints[] = {0, 1, -1, 42, -1234567, INT_MAX, INT_MIN};
    for (unsigned i = 0; i < sizeof ints / sizeof ints[0]; i++)
        printf("%d|%5d|%-5d|%u|%x|%X|%o|%+d\n", ints[i], ints[i], ints[i], (unsigned)ints[i],
               ints[i], ints[i], ints[i], ints[i]);
    long long ll[] = {0, LLONG_MAX, LLONG_MIN, 1234567890123LL, -98765432109876LL};
    for (unsigned i = 0; i < sizeof ll / sizeof ll[0]; i++)
        printf("%lld %llu %llx %" PRId64 "\n", ll[i], (unsigned long long)ll[i],
               (unsigned long long)ll[i], (int64_t)ll[i]);
    double ds[] = {0.0, -0.0, 1.0, 3.141592653589793, 1e300, 1e-300, 2.5e-310, 123456.789,
                   -7.25, 1.0 / 3.0, 6.02214076e23};
    for (unsigned i = 0; i < sizeof ds / sizeof ds[0]; i++)
        printf("%f %e %g %.17g %a %10.3f\n", ds[i], ds[i], ds[i], ds[i], ds[i], ds[i]);
    printf("%f %f %f\n", INFINITY, -INFINITY, NAN);
    float f = 0.1f;
    double acc = 0;
    for (int i = 0; i < 1000; i++) acc += f * i;
    printf("acc=%.9g sqrt2=%.15f sin1=%.15f exp1=%.15f log10=%.15f pow=%.6g\n", acc,
           sqrt(2.0), sin(1.0), exp(1.0), log(10.0), pow(1.5, 40.0));
    printf("floor=%g ceil=%g round=%g trunc=%g fmod=%g\n", floor(-2.5), ceil(-2.5),
           round(-2.5), trunc(-2.5), fmod(10.5, 3.0));
    char buf[64];
    int n = snprintf(buf, sizeof buf, "[%08.3f|%-8s|%c]", 3.14159, "ab", 'z');
    printf("%s %d\n", buf, n);
    return 0;
}
