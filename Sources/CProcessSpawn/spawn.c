#define _GNU_SOURCE
#include "CProcessSpawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/epoll.h>
#include <sys/eventfd.h>
#endif

int wsgate_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[], const char *directory,
                 int stdin_fd, int stdout_fd, int stderr_fd) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    int error = posix_spawn_file_actions_init(&actions);
    if (error != 0) return error;
    error = posix_spawnattr_init(&attributes);
    if (error != 0) {
        posix_spawn_file_actions_destroy(&actions);
        return error;
    }
    // dup2 clears close-on-exec on the new descriptor, so only 0, 1 and 2 survive the exec (the
    // gateway's own descriptors are all close-on-exec; closefrom makes sure of it where it exists).
    if (error == 0) error = posix_spawn_file_actions_adddup2(&actions, stdin_fd, 0);
    if (error == 0) error = posix_spawn_file_actions_adddup2(&actions, stdout_fd, 1);
    if (error == 0) error = posix_spawn_file_actions_adddup2(&actions, stderr_fd, 2);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    if (error == 0) error = posix_spawn_file_actions_addclosefrom_np(&actions, 3);
#endif
    if (error == 0 && directory != NULL) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 29))
        error = posix_spawn_file_actions_addchdir_np(&actions, directory);
#elif defined(__APPLE__)
        error = posix_spawn_file_actions_addchdir_np(&actions, directory);
#else
        error = ENOSYS;
#endif
    }
    sigset_t none;
    sigset_t all;
    sigemptyset(&none);
    sigfillset(&all);
    // The gateway ignores SIGPIPE, SIGTERM, SIGINT and SIGHUP (it handles them itself); an ignored
    // disposition would survive the exec, so the child gets every signal back at its default.
    if (error == 0) error = posix_spawnattr_setsigmask(&attributes, &none);
    if (error == 0) error = posix_spawnattr_setsigdefault(&attributes, &all);
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
#if defined(POSIX_SPAWN_SETSID)
    flags |= POSIX_SPAWN_SETSID;
#else
    flags |= POSIX_SPAWN_SETPGROUP;
    if (error == 0) error = posix_spawnattr_setpgroup(&attributes, 0);
#endif
    if (error == 0) error = posix_spawnattr_setflags(&attributes, flags);
    if (error == 0) error = posix_spawn(pid, path, &actions, &attributes, argv, envp);
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    return error;
}

int wsgate_pidfd_open(pid_t pid) {
#if defined(__linux__) && defined(SYS_pidfd_open)
    return (int)syscall(SYS_pidfd_open, pid, 0);
#elif defined(__linux__)
    return (int)syscall(434, pid, 0);
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

/// Moves a descriptor to 3 or above: a gateway started with 0, 1 or 2 closed would otherwise get a
/// pipe end there, and the child's dup2 onto 0, 1 and 2 would mix them up.
static int above_standard(int fd) {
    if (fd > 2) return fd;
    int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    return moved;
}

int wsgate_pipe(int fds[2]) {
    int made[2];
#if defined(__linux__)
    if (pipe2(made, O_CLOEXEC) != 0) return errno;
#else
    if (pipe(made) != 0) return errno;
    fcntl(made[0], F_SETFD, FD_CLOEXEC);
    fcntl(made[1], F_SETFD, FD_CLOEXEC);
#endif
    fds[0] = above_standard(made[0]);
    fds[1] = above_standard(made[1]);
    if (fds[0] < 0 || fds[1] < 0) {
        int error = errno;
        if (fds[0] >= 0) close(fds[0]);
        if (fds[1] >= 0) close(fds[1]);
        return error;
    }
    return 0;
}

int wsgate_set_nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return errno;
    return fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 ? 0 : errno;
}

int wsgate_exit_status(int status, int *value) {
    if (WIFEXITED(status)) {
        *value = WEXITSTATUS(status);
        return 1;
    }
    *value = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    return 0;
}

#if defined(__linux__)
int wsgate_watcher_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int wsgate_watcher_add(int watcher, int fd) {
    struct epoll_event event = {0};
    event.events = EPOLLIN;
    event.data.fd = fd;
    return epoll_ctl(watcher, EPOLL_CTL_ADD, fd, &event) == 0 ? 0 : errno;
}

int wsgate_watcher_remove(int watcher, int fd) {
    return epoll_ctl(watcher, EPOLL_CTL_DEL, fd, NULL) == 0 ? 0 : errno;
}

int wsgate_watcher_wait(int watcher, int *ready, int capacity, int timeout_ms) {
    struct epoll_event events[64];
    if (capacity > 64) capacity = 64;
    int count = epoll_wait(watcher, events, capacity, timeout_ms);
    if (count < 0) return 0;
    for (int i = 0; i < count; i++) ready[i] = events[i].data.fd;
    return count;
}

int wsgate_eventfd(void) { return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); }
#else
int wsgate_watcher_create(void) { return -1; }
int wsgate_watcher_add(int watcher, int fd) { (void)watcher; (void)fd; return ENOSYS; }
int wsgate_watcher_remove(int watcher, int fd) { (void)watcher; (void)fd; return ENOSYS; }
int wsgate_watcher_wait(int watcher, int *ready, int capacity, int timeout_ms) {
    (void)watcher; (void)ready; (void)capacity; (void)timeout_ms;
    return 0;
}
int wsgate_eventfd(void) { return -1; }
#endif
