/* The floor for one socket-owner walk: for every pid in /proc, list its fd directory and
 * readlink every entry, keeping the inode of each socket:[N] link in nothing: no lookup, no
 * bookkeeping. What `ss -p` and vitals' listening_owners / processes.sockets must do at least.
 * usage: fd_floor CYCLES [PROCFS]; prints the CPU time (user + system, getrusage) per cycle
 * in milliseconds, then the descriptors and sockets seen in one cycle. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static long fds, sockets;

static void cycle(const char *procfs) {
  char p[512], link[64];
  fds = sockets = 0;
  DIR *d = opendir(procfs);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
    snprintf(p, sizeof p, "%s/%s/fd", procfs, e->d_name);
    DIR *f = opendir(p);
    if (!f) continue;
    struct dirent *g;
    while ((g = readdir(f))) {
      if (g->d_name[0] < '0' || g->d_name[0] > '9') continue;
      /* readlinkat on the directory's fd, as vitals does: no path per descriptor. */
      ssize_t n = readlinkat(dirfd(f), g->d_name, link, sizeof link);
      fds++;
      if (n > 8 && memcmp(link, "socket:[", 8) == 0) sockets++;
    }
    closedir(f);
  }
  closedir(d);
}

static double cpu_ms(void) {
  struct rusage r;
  getrusage(RUSAGE_SELF, &r);
  return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1e3 + (r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e3;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 20;
  const char *procfs = argc > 2 ? argv[2] : "/proc";
  cycle(procfs);
  double t0 = cpu_ms();
  for (int i = 0; i < n; i++) cycle(procfs);
  printf("%.3f %ld %ld\n", (cpu_ms() - t0) / n, fds, sockets);
  return 0;
}
