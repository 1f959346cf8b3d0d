/* The floor for one cgroups-collector tick: walk a cgroup v2 tree (opendir/readdir of every
 * directory) and open, read and close in each the files vitals reads per cgroup, with no
 * parsing and no bookkeeping. usage: cgroup_floor CYCLES ROOT; prints the CPU time
 * (user + system, getrusage) per cycle in milliseconds. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static char buf[1 << 16];
static const char *files[] = {"cpu.stat", "cpu.max", "cpu.weight", "memory.current",
                              "memory.max", "memory.high", "memory.peak", "memory.stat",
                              "memory.events", "memory.swap.current", "memory.swap.max",
                              "io.stat", "pids.current", "pids.max", "cpu.pressure",
                              "memory.pressure", "io.pressure", "cgroup.procs"};

static void slurp(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  while (read(fd, buf, sizeof buf) > 0) {
  }
  close(fd);
}

static void walk(const char *dir) {
  char p[4096];
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_type != DT_DIR || e->d_name[0] == '.') continue;
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    walk(p);
  }
  closedir(d);
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
    snprintf(p, sizeof p, "%s/%s", dir, files[i]);
    slurp(p);
  }
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: cgroup_floor CYCLES ROOT\n");
    return 2;
  }
  int cycles = atoi(argv[1]);
  for (int i = 0; i < cycles; i++) walk(argv[2]);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double ms = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
              (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
  printf("%.3f\n", ms / cycles);
  return 0;
}
