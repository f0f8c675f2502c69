/*
 * For the tests only (t/cgroup-vm.t, through t/lib/VM.pm): the /init of a
 * small qemu VM that runs clusterd's tests on a kernel of its own, with a
 * pure cgroup v2 hierarchy (every controller in v2, none in v1).  Built with
 * -static at test time and put alone into an initramfs, with the modules
 * 9p needs and a file /vm.conf that says, one item a line:
 *
 *	module NAME	load /m/NAME.ko (in the order given: dependencies first)
 *	keep PATH	a path under /tmp that stays the host's (the build tree)
 *	out PATH	where the writable share "out" goes in the chroot
 *	run PATH	the script to run with /bin/sh in the chroot
 *
 * It loads the modules, mounts the host's / (9p tag "hostroot", read-only)
 * on /host, gives it the usual kernel filesystems, cgroup2 on
 * /sys/fs/cgroup, tmpfs on /tmp, /run and /dev/shm, brings up lo, chroots
 * there, runs the script, and powers the VM off whatever happened: the
 * host reads the results from the "out" share and the console.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define NINEP_OPTS	"trans=virtio,version=9p2000.L,msize=262144"
#define NINEP_RO	NINEP_OPTS ",cache=loose"

static char conf[8192];

/* Every line on the console starts with "vm-init: ", so the host finds
 * them among the kernel's. */
static void
say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("vm-init: ", stdout);
	vfprintf(stdout, fmt, ap);
	fputc('\n', stdout);
	fflush(stdout);
	va_end(ap);
}

/* Nothing can be done about a failed step but say so and stop: the host
 * sees the line and the missing results. */
static _Noreturn __attribute__((format(printf, 1, 2))) void
die(const char *fmt, ...)
{
	const char *err = strerror(errno);
	va_list ap;

	va_start(ap, fmt);
	fputs("vm-init: ", stdout);
	vfprintf(stdout, fmt, ap);
	printf(": %s\n", err);
	fflush(stdout);
	va_end(ap);
	sync();
	reboot(RB_POWER_OFF);
	_exit(1);
}

static void
domount(const char *src, const char *dst, const char *type,
    unsigned long flags, const char *opts)
{
	if (mount(src, dst, type, flags, opts) == -1)
		die("mount %s on %s", type != NULL ? type : src, dst);
}

/* mkdir -p, for mount points made in a tmpfs. */
static void
mkpath(const char *path)
{
	char p[4096];
	char *s;
	int end;

	if (snprintf(p, sizeof(p), "%s", path) >= (int)sizeof(p)) {
		errno = ENAMETOOLONG;
		die("%s", path);
	}
	for (s = p + 1; ; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		end = *s == '\0';
		*s = '\0';
		if (mkdir(p, 0755) == -1 && errno != EEXIST)
			die("%s", p);
		if (end)
			break;
		*s = '/';
	}
}

static void
load_module(const char *name)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "/m/%s.ko", name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		die("%s", path);
	/* EEXIST: built in, or loaded as another's dependency. */
	if (syscall(SYS_finit_module, fd, "", 0) == -1 && errno != EEXIST)
		die("%s", path);
	close(fd);
}

/* The kernel gives lo 127.0.0.1 and ::1 once it is up. */
static void
lo_up(void)
{
	struct ifreq ifr;
	int s;

	if ((s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		die("socket");
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) == -1)
		die("lo: SIOCGIFFLAGS");
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) == -1)
		die("lo: SIOCSIFFLAGS");
	close(s);
}

/* The host's / with the VM's own kernel filesystems over it.  The paths
 * under /tmp that conf keeps (a build tree there) are bound back from the
 * host's /tmp once the VM's tmpfs covers it. */
static void
build_root(const char *out)
{
	char src[4096], dst[4096], *line, *save;

	mkpath("/host");
	domount("hostroot", "/host", "9p", MS_RDONLY, NINEP_RO);
	mkpath("/hosttmp");
	domount("/host/tmp", "/hosttmp", NULL, MS_BIND, NULL);
	domount("proc", "/host/proc", "proc", 0, NULL);
	domount("sysfs", "/host/sys", "sysfs", 0, NULL);
	domount("cgroup2", "/host/sys/fs/cgroup", "cgroup2", 0, NULL);
	domount("devtmpfs", "/host/dev", "devtmpfs", 0, NULL);
	mkpath("/host/dev/pts");
	domount("devpts", "/host/dev/pts", "devpts", 0, "ptmxmode=0666");
	mkpath("/host/dev/shm");
	domount("tmpfs", "/host/dev/shm", "tmpfs", 0, "mode=1777");
	domount("tmpfs", "/host/run", "tmpfs", 0, "mode=0755");
	domount("tmpfs", "/host/tmp", "tmpfs", 0, "mode=1777");
	for (line = strtok_r(conf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "keep /tmp/", 10) != 0)
			continue;
		snprintf(src, sizeof(src), "/hosttmp%s", line + 9);
		snprintf(dst, sizeof(dst), "/host%s", line + 5);
		mkpath(dst);
		domount(src, dst, NULL, MS_BIND, NULL);
	}
	snprintf(dst, sizeof(dst), "/host%s", out);
	mkpath(dst);
	domount("out", dst, "9p", 0, NINEP_OPTS);
}

/* PID 1 reaps whatever ends up its child until the script is done. */
static int
run_script(const char *run)
{
	pid_t pid, p;
	int status;

	if ((pid = fork()) == -1)
		die("fork");
	if (pid == 0) {
		if (chroot("/host") == -1 || chdir("/") == -1)
			die("chroot /host");
		execl("/bin/sh", "sh", run, (char *)NULL);
		die("exec /bin/sh");
	}
	while ((p = wait(&status)) != pid)
		if (p == -1 && errno != EINTR)
			die("wait");
	return WIFEXITED(status) ? WEXITSTATUS(status)
	    : 128 + WTERMSIG(status);
}

int
main(void)
{
	char *line, *save, copy[sizeof(conf)];
	const char *run = NULL, *out = NULL;
	ssize_t n;
	int fd;

	if (mount("proc", "/proc", "proc", 0, NULL) == -1)
		die("mount /proc");
	if ((fd = open("/vm.conf", O_RDONLY | O_CLOEXEC)) == -1)
		die("/vm.conf");
	if ((n = read(fd, conf, sizeof(conf) - 1)) <= 0)
		die("/vm.conf: read");
	close(fd);
	conf[n] = '\0';
	memcpy(copy, conf, sizeof(conf));
	for (line = strtok_r(copy, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "module ", 7) == 0)
			load_module(line + 7);
		else if (strncmp(line, "out ", 4) == 0)
			out = line + 4;
		else if (strncmp(line, "run ", 4) == 0)
			run = line + 4;
	}
	if (out == NULL || run == NULL) {
		errno = EINVAL;
		die("/vm.conf: no out or no run line");
	}
	build_root(out);
	lo_up();
	say("running %s", run);
	say("%s exited with status %d", run, run_script(run));
	sync();
	reboot(RB_POWER_OFF);
	die("reboot");
}
