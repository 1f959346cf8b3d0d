/* The floor for one processes-collector tick: for every pid in /proc, open, read and close
 * the files vitals reads each tick (stat, status, io) and list the fd directory, with no
 * parsing and no bookkeeping. usage: proc_floor CYCLES [PROCFS]; prints the CPU time
 * (user + system, getrusage) per cycle in milliseconds. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

static char buf[1 << 16];

static void slurp(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  while (read(fd, buf, sizeof buf) > 0) {
  }
  close(fd);
}

static void cycle(const char *procfs) {
  char p[512];
  DIR *d = opendir(procfs);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
    snprintf(p, sizeof p, "%s/%s/stat", procfs, e->d_name);
    slurp(p);
    snprintf(p, sizeof p, "%s/%s/status", procfs, e->d_name);
    slurp(p);
    snprintf(p, sizeof p, "%s/%s/io", procfs, e->d_name);
    slurp(p);
    snprintf(p, sizeof p, "%s/%s/fd", procfs, e->d_name);
    DIR *f = opendir(p);
    if (f) {
      while (readdir(f)) {
      }
      closedir(f);
    }
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
  printf("%.3f\n", (cpu_ms() - t0) / n);
  return 0;
}
