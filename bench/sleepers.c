/* N sleeping processes named vt-sleeper, for the processes benchmark: forks them, prints
 * "ready", and waits. Kill its process group to end them all. usage: sleepers N */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 1000;
  for (int i = 0; i < n; i++) {
    pid_t pid = fork();
    if (pid < 0) {
      perror("fork");
      return 1;
    }
    if (pid == 0) {
      prctl(PR_SET_NAME, "vt-sleeper");
      pause();
      _exit(0);
    }
  }
  printf("ready\n");
  fflush(stdout);
  pause();
  return 0;
}
