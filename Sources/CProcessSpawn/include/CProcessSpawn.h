#ifndef CPROCESSSPAWN_H
#define CPROCESSSPAWN_H

#include <sys/types.h>

/// Starts `path` with exactly `argv` and `envp` (NULL-terminated), its stdin, stdout and stderr on the
/// given descriptors, in `directory` (NULL: the current one), as the leader of a new session and process
/// group, with every signal at its default disposition and none blocked, and with no other descriptor
/// open. Returns 0 and sets `*pid`, or an errno value.
int wsgate_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[], const char *directory,
                 int stdin_fd, int stdout_fd, int stderr_fd);

/// A descriptor that becomes readable when `pid` exits (Linux pidfd_open, close-on-exec), or -1 with
/// errno set (ENOSYS on kernels before 5.3 and on other systems).
int wsgate_pidfd_open(pid_t pid);

/// Makes a pipe whose two ends are close-on-exec (blocking; NIO makes its own end non-blocking).
/// Returns 0 or an errno value.
int wsgate_pipe(int fds[2]);

/// Whether `status` (from waitpid) is a normal exit; its code or signal in `*value`.
int wsgate_exit_status(int status, int *value);

/// An epoll set (close-on-exec) for the reaper, or -1 where there is none.
int wsgate_watcher_create(void);

/// Watches `fd` for readability in `watcher`. Returns 0 or an errno value.
int wsgate_watcher_add(int watcher, int fd);

/// Stops watching `fd`. Returns 0 or an errno value.
int wsgate_watcher_remove(int watcher, int fd);

/// Waits up to `timeout_ms` (-1: for ever) and writes the ready descriptors to `ready`; returns how
/// many (0 on timeout or interruption).
int wsgate_watcher_wait(int watcher, int *ready, int capacity, int timeout_ms);

/// Sets O_NONBLOCK on `fd`. Returns 0 or an errno value.
int wsgate_set_nonblocking(int fd);

/// A non-blocking, close-on-exec eventfd, or -1.
int wsgate_eventfd(void);

#endif
