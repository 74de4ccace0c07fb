/* The pod sandbox process of hack/cluster's node (containerd's sandbox_image): it holds the
 * pod's namespaces, reaps orphaned children and exits on SIGINT/SIGTERM. Built static
 * (gcc -Os -static), so its image is this one file. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int sig) { (void)sig; _exit(0); }
static void reap(int sig) { (void)sig; while (waitpid(-1, 0, WNOHANG) > 0) {} }

int main(void) {
  struct sigaction quit = {.sa_handler = stop}, child = {.sa_handler = reap, .sa_flags = SA_NOCLDSTOP};
  sigaction(SIGINT, &quit, 0);
  sigaction(SIGTERM, &quit, 0);
  sigaction(SIGCHLD, &child, 0);
  for (;;) pause();
}
