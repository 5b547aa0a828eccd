/*
 * netprobe: the NetworkPolicy truth-table test's server and prober (agnhost's `serve-hostname`
 * and `connect` in one static binary), built by test/support/netpol-netprobe.ts.
 *
 *   netprobe serve TCP_PORTS UDP_PORTS        e.g. serve 80,81 80,81
 *       accepts and closes TCP connections; echoes UDP datagrams to their sender.
 *   netprobe probe TIMEOUT_MS TARGET...       TARGET = tcp:IP:PORT | udp:IP:PORT
 *       probes every target at once; prints "TARGET ok|refused|timeout|error" per line, in order.
 *       TCP: the handshake completes. UDP: a datagram comes back (resent every 200 ms).
 *
 * A policy drop shows as a timeout; a refusal means the packet got through to a closed port.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_FDS 256

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void die(const char *what) {
  perror(what);
  exit(2);
}

/* As PID 1 of its container the server ignores signals without a handler: exit on TERM/INT. */
static void on_signal(int sig) {
  (void)sig;
  _exit(0);
}

static int listen_on(int type, int port) {
  int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY)};
  if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
  if (type == SOCK_STREAM && listen(fd, 512) < 0) die("listen");
  return fd;
}

__attribute__((noreturn)) static void serve(const char *tcp_ports, const char *udp_ports) {
  struct pollfd fds[MAX_FDS];
  int is_tcp[MAX_FDS];
  int n = 0;
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  for (int pass = 0; pass < 2; pass++) {
    char *list = strdup(pass == 0 ? tcp_ports : udp_ports);
    for (char *tok = strtok(list, ","); tok && n < MAX_FDS; tok = strtok(NULL, ",")) {
      fds[n].fd = listen_on(pass == 0 ? SOCK_STREAM : SOCK_DGRAM, atoi(tok));
      fds[n].events = POLLIN;
      is_tcp[n] = pass == 0;
      n++;
    }
    free(list);
  }
  printf("serving tcp %s udp %s\n", tcp_ports, udp_ports);
  fflush(stdout);
  char buf[2048];
  for (;;) {
    if (poll(fds, n, -1) < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    for (int i = 0; i < n; i++) {
      if (!(fds[i].revents & POLLIN)) continue;
      if (is_tcp[i]) {
        int c;
        while ((c = accept4(fds[i].fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) close(c);
      } else {
        struct sockaddr_in from;
        socklen_t len = sizeof from;
        ssize_t r;
        while ((r = recvfrom(fds[i].fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &len)) >= 0) {
          sendto(fds[i].fd, buf, (size_t)r, 0, (struct sockaddr *)&from, len);
          len = sizeof from;
        }
      }
    }
  }
}

enum state { PENDING, OK, REFUSED, TIMEOUT, ERROR };
static const char *STATE[] = {"pending", "ok", "refused", "timeout", "error"};

static int probe(int timeout_ms, int count, char **targets) {
  if (count > MAX_FDS) {
    fprintf(stderr, "at most %d targets\n", MAX_FDS);
    return 2;
  }
  struct pollfd fds[MAX_FDS];
  int udp[MAX_FDS];
  enum state st[MAX_FDS];
  long deadline = now_ms() + timeout_ms;
  for (int i = 0; i < count; i++) {
    char proto[8], ip[64];
    int port;
    st[i] = PENDING;
    fds[i].fd = -1;
    if (sscanf(targets[i], "%7[a-z]:%63[0-9.]:%d", proto, ip, &port) != 3) {
      fprintf(stderr, "bad target %s\n", targets[i]);
      return 2;
    }
    udp[i] = strcmp(proto, "udp") == 0;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
      fprintf(stderr, "bad address %s\n", ip);
      return 2;
    }
    int fd = socket(AF_INET, (udp[i] ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    fds[i].fd = fd;
    /* UDP connect: replies from the target only, and its ICMP errors reported on the socket. */
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) {
      st[i] = errno == ECONNREFUSED ? REFUSED : ERROR;
      continue;
    }
    fds[i].events = udp[i] ? POLLIN : POLLOUT;
    if (udp[i]) send(fd, "probe", 5, 0);
  }
  long next_resend = now_ms() + 200;
  for (;;) {
    int pending = 0;
    for (int i = 0; i < count; i++)
      if (st[i] == PENDING) pending++;
    if (!pending) break;
    long t = now_ms();
    if (t >= deadline) break;
    if (t >= next_resend) {
      for (int i = 0; i < count; i++)
        if (st[i] == PENDING && udp[i]) send(fds[i].fd, "probe", 5, 0);
      next_resend = t + 200;
    }
    long wait = (next_resend < deadline ? next_resend : deadline) - t;
    struct pollfd active[MAX_FDS];
    int index[MAX_FDS], m = 0;
    for (int i = 0; i < count; i++) {
      if (st[i] != PENDING) continue;
      active[m] = fds[i];
      index[m++] = i;
    }
    if (poll(active, m, (int)wait) < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    for (int k = 0; k < m; k++) {
      int i = index[k];
      if (!active[k].revents) continue;
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(fds[i].fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err) {
        st[i] = err == ECONNREFUSED ? REFUSED : ERROR;
      } else if (udp[i]) {
        char buf[64];
        ssize_t r = recv(fds[i].fd, buf, sizeof buf, 0);
        if (r >= 0) st[i] = OK;
        else if (errno == ECONNREFUSED) st[i] = REFUSED;
        else if (errno != EAGAIN) st[i] = ERROR;
      } else {
        st[i] = OK;
      }
    }
  }
  for (int i = 0; i < count; i++) {
    if (st[i] == PENDING) st[i] = TIMEOUT;
    printf("%s %s\n", targets[i], STATE[st[i]]);
    if (fds[i].fd >= 0) close(fds[i].fd);
  }
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc == 4 && strcmp(argv[1], "serve") == 0) serve(argv[2], argv[3]);
  if (argc >= 3 && strcmp(argv[1], "probe") == 0) return probe(atoi(argv[2]), argc - 3, argv + 3);
  fprintf(stderr, "usage: netprobe serve TCP_PORTS UDP_PORTS | netprobe probe TIMEOUT_MS tcp|udp:IP:PORT...\n");
  return 2;
}
