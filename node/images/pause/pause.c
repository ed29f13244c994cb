/* bulkhead-pause: PID 1 of a pod sandbox. It holds the pod's namespaces
 * open, reaps the zombies that the containers' orphans leave to it, and
 * exits 0 on SIGINT or SIGTERM. Linked -static so that the image needs no
 * libc: the image's rootfs is this one file.
 *
 * PID 1 of a PID namespace only receives signals it has a handler for, so
 * every signal waited for has one (empty); they stay blocked and are taken
 * with sigwait. */
#include <signal.h>
#include <stddef.h>
#include <sys/wait.h>

static void nothing(int sig) { (void)sig; }

int main(void) {
  sigset_t waited;
  sigemptyset(&waited);
  sigaddset(&waited, SIGINT);
  sigaddset(&waited, SIGTERM);
  sigaddset(&waited, SIGCHLD);
  if (sigprocmask(SIG_BLOCK, &waited, NULL) != 0) {
    return 1;
  }
  struct sigaction action = {0};
  action.sa_handler = nothing;
  sigemptyset(&action.sa_mask);
  if (sigaction(SIGINT, &action, NULL) != 0 || sigaction(SIGTERM, &action, NULL) != 0 ||
      sigaction(SIGCHLD, &action, NULL) != 0) {
    return 1;
  }
  for (;;) {
    int sig = 0;
    if (sigwait(&waited, &sig) != 0) {
      continue;
    }
    if (sig == SIGCHLD) {
      while (waitpid(-1, NULL, WNOHANG) > 0) {
      }
    } else {
      return 0;
    }
  }
}
