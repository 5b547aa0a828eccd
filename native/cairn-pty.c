/*
 * cairn-pty: runs a program on a new pseudo-terminal and relays it over plain pipes.
 *
 *   cairn-pty PROGRAM [ARG...]
 *
 * Why: `runc run` / `runc exec -t` in the foreground create the container's terminal
 * themselves, copy it to and from runc's own stdio, and on SIGWINCH copy the size of *their
 * own* terminal to the container's. A Node process has no terminal to give them, so this helper
 * makes one:
 *
 * - PROGRAM runs in a new session with the terminal's slave side as its controlling terminal and
 *   as its stdin, stdout and stderr;
 * - bytes read from our stdin are written to the terminal, and what the terminal prints is
 *   written to our stdout (with a terminal there is no separate stderr);
 * - lines "ROWS COLS\n" read from fd 3 (when the caller opened one) set the terminal's window
 *   size; the kernel then sends SIGWINCH to PROGRAM, which is what makes runc resize the
 *   container's terminal;
 * - when our stdin ends, an end-of-file character (^D) is written to the terminal, since a
 *   terminal cannot be half-closed;
 * - we exit with PROGRAM's status, or 128+N when a signal N killed it; 125 when the terminal
 *   could not be set up, 127 when PROGRAM could not be run.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define CONTROL_FD 3
#define EOF_CHAR 4 /* ^D, the default VEOF */

static int write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        poll(&p, 1, -1);
        continue;
      }
      return -1;
    }
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Applies every complete "ROWS COLS" line in buf[0..*len) to the terminal; keeps the rest. */
static void apply_sizes(int master, char *buf, size_t *len) {
  size_t start = 0;
  for (size_t i = 0; i < *len; i++) {
    if (buf[i] != '\n') continue;
    buf[i] = '\0';
    unsigned rows = 0, cols = 0;
    if (sscanf(buf + start, "%u %u", &rows, &cols) == 2 && rows < 65536 && cols < 65536) {
      struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
      ioctl(master, TIOCSWINSZ, &ws);
    }
    start = i + 1;
  }
  memmove(buf, buf + start, *len - start);
  *len -= start;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: cairn-pty PROGRAM [ARG...]\n");
    return 125;
  }
  /* Before openpty, which would take fd 3 when the caller left it closed. */
  int control = fcntl(CONTROL_FD, F_GETFD) >= 0 ? CONTROL_FD : -1;
  int master, slave;
  if (openpty(&master, &slave, NULL, NULL, NULL) < 0) {
    fprintf(stderr, "cairn-pty: openpty: %s\n", strerror(errno));
    return 125;
  }

  pid_t child = fork();
  if (child < 0) {
    fprintf(stderr, "cairn-pty: fork: %s\n", strerror(errno));
    return 125;
  }
  if (child == 0) {
    if (setsid() < 0 || ioctl(slave, TIOCSCTTY, 0) < 0) {
      fprintf(stderr, "cairn-pty: controlling terminal: %s\n", strerror(errno));
      _exit(125);
    }
    dup2(slave, 0);
    dup2(slave, 1);
    dup2(slave, 2);
    close(master);
    if (slave > 2) close(slave);
    if (control >= 0) close(control);
    execvp(argv[1], argv + 1);
    fprintf(stderr, "cairn-pty: cannot run %s: %s\n", argv[1], strerror(errno));
    _exit(127);
  }
  close(slave);
  /* A reader that went away must not kill us before we reap the child. */
  signal(SIGPIPE, SIG_IGN);

  char buf[65536];
  char sizes[256];
  size_t sizes_len = 0;
  int stdin_open = 1;
  for (;;) {
    struct pollfd fds[3] = {
        {.fd = master, .events = POLLIN},
        {.fd = stdin_open ? 0 : -1, .events = POLLIN},
        {.fd = control, .events = POLLIN},
    };
    if (poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = read(master, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      /* EIO: every process holding the slave side is gone, and all output was read. */
      if (n <= 0) break;
      if (write_all(1, buf, (size_t)n) < 0) break;
    }
    if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = read(0, buf, sizeof buf);
      if (n > 0) {
        if (write_all(master, buf, (size_t)n) < 0) break;
      } else if (n == 0 || errno != EINTR) {
        const char eof = EOF_CHAR;
        write_all(master, &eof, 1);
        stdin_open = 0;
      }
    }
    if (control >= 0 && (fds[2].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t n = read(control, sizes + sizes_len, sizeof sizes - sizes_len - 1);
      if (n > 0) {
        sizes_len += (size_t)n;
        apply_sizes(master, sizes, &sizes_len);
        if (sizes_len == sizeof sizes - 1) sizes_len = 0; /* a line too long to be a size: drop it */
      } else if (n == 0 || errno != EINTR) {
        control = -1;
      }
    }
  }
  /* Closing the master hangs up the terminal: a child still running gets SIGHUP. */
  close(master);
  int status;
  while (waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) return 125;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 125;
}
