/* N sleeping processes named vt-sleeper, for the processes benchmark: forks them, prints
 * "ready", and waits. Kill its process group to end them all. With FDS, each holds that many
 * open descriptors (/dev/null and one socket pair), for the socket-owner benchmark.
 * usage: sleepers N [FDS] */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 1000;
  int fds = argc > 2 ? atoi(argv[2]) : 0;
  for (int i = 0; i < n; i++) {
    pid_t pid = fork();
    if (pid < 0) {
      perror("fork");
      return 1;
    }
    if (pid == 0) {
      prctl(PR_SET_NAME, "vt-sleeper");
      /* 0, 1 and 2 are inherited; a socket pair, then /dev/null up to FDS. */
      int pair[2];
      if (fds > 4) socketpair(AF_UNIX, SOCK_STREAM, 0, pair);
      for (int held = 5; held < fds; held++)
        if (open("/dev/null", O_RDONLY) < 0) break;
      pause();
      _exit(0);
    }
  }
  printf("ready\n");
  fflush(stdout);
  pause();
  return 0;
}
