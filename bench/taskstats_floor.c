/* The floor for the taskstats listener: a generic netlink socket registered for the exit
 * records of every cpu that receives them and does nothing else (no parsing, no queue).
 * usage: taskstats_floor SECONDS; prints "records cpu_seconds" (user + system, getrusage). */
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/taskstats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static char buf[1 << 16];

static int request(int fd, unsigned short type, unsigned char cmd, unsigned short attr,
                   const void *data, int len, int flags) {
  struct {
    struct nlmsghdr n;
    struct genlmsghdr g;
    char attrs[256];
  } req;
  memset(&req, 0, sizeof req);
  struct nlattr *a = (struct nlattr *)req.attrs;
  a->nla_type = attr;
  a->nla_len = NLA_HDRLEN + len;
  memcpy((char *)a + NLA_HDRLEN, data, len);
  req.n.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN + NLA_ALIGN(a->nla_len));
  req.n.nlmsg_type = type;
  req.n.nlmsg_flags = NLM_F_REQUEST | flags;
  req.g.cmd = cmd;
  req.g.version = 1;
  return send(fd, &req, req.n.nlmsg_len, 0);
}

int main(int argc, char **argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 10;
  int fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_GENERIC);
  int size = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size);
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
  bind(fd, (struct sockaddr *)&sa, sizeof sa);
  request(fd, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, CTRL_ATTR_FAMILY_NAME, "TASKSTATS", 10, 0);
  int n = recv(fd, buf, sizeof buf, 0);
  unsigned short family = 0;
  for (struct nlattr *a = (struct nlattr *)(buf + NLMSG_HDRLEN + GENL_HDRLEN);
       (char *)a < buf + n && a->nla_len; a = (struct nlattr *)((char *)a + NLA_ALIGN(a->nla_len)))
    if (a->nla_type == CTRL_ATTR_FAMILY_ID) family = *(unsigned short *)((char *)a + NLA_HDRLEN);
  char cpus[64];
  snprintf(cpus, sizeof cpus, "0-%ld", sysconf(_SC_NPROCESSORS_CONF) - 1);
  request(fd, family, TASKSTATS_CMD_GET, TASKSTATS_CMD_ATTR_REGISTER_CPUMASK, cpus,
          strlen(cpus) + 1, 0);
  struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  long records = 0;
  do {
    if (recv(fd, buf, sizeof buf, 0) > 0) records++;
    clock_gettime(CLOCK_MONOTONIC, &now);
  } while (now.tv_sec - start.tv_sec + (now.tv_nsec - start.tv_nsec) / 1e9 < seconds);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("%ld %.4f\n", records,
         ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
  return 0;
}
