/* Forks RATE children a second for SECONDS, each exiting at once, and waits for each: the exit
 * workload of bench/exit_listener_cost.py (a Python fork loop does not reach 1,000/s on a busy
 * 2-vCPU machine). usage: fork_rate SECONDS RATE; prints "exits elapsed_seconds". */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: fork_rate SECONDS RATE\n");
    return 2;
  }
  double seconds = atof(argv[1]), rate = atof(argv[2]);
  double start = now();
  long n = 0;
  while (now() - start < seconds) {
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    if (pid < 0) return 1;
    waitpid(pid, NULL, 0);
    n++;
    double delay = start + n / rate - now();
    if (delay > 0) {
      struct timespec d = {(time_t)delay, (long)((delay - (time_t)delay) * 1e9)};
      nanosleep(&d, NULL);
    }
  }
  printf("%ld %.3f\n", n, now() - start);
  return 0;
}
