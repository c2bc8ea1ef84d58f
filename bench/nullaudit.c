// nullaudit: the physical limit of an audit collector on this kernel.
//
//   nullaudit [-b RCVBUF]
//
// Registers as the audit daemon (AUDIT_SET pid, acknowledged), prints
// "ready", then receives every datagram and discards it, until SIGINT or
// SIGTERM: it then unregisters (AUDIT_SET pid 0) and prints
// frames=N bytes=N enobufs=N. Its receive buffer is forced to RCVBUF
// (default 8 MiB, as ctrace's; the kernel doubles it) so that it sees the
// same socket as the recorder.
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/netlink.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static int set_pid(int s, unsigned pid, unsigned seq) {
	struct {
		struct nlmsghdr h;
		struct audit_status st;
	} m;
	memset(&m, 0, sizeof m);
	m.h.nlmsg_len = sizeof m;
	m.h.nlmsg_type = AUDIT_SET;
	m.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	m.h.nlmsg_seq = seq;
	m.st.mask = AUDIT_STATUS_PID;
	m.st.pid = pid;
	if (send(s, &m, sizeof m, 0) < 0) return -errno;
	// The acknowledgement; events that arrive first are skipped.
	static char buf[1 << 16];
	for (;;) {
		ssize_t n = recv(s, buf, sizeof buf, 0);
		if (n < 0) {
			if (errno == EINTR || errno == ENOBUFS) continue;
			return -errno;
		}
		struct nlmsghdr *h = (struct nlmsghdr *)buf;
		if ((size_t)n >= sizeof *h + sizeof(int) && h->nlmsg_type == NLMSG_ERROR && h->nlmsg_seq == seq)
			return *(int *)NLMSG_DATA(h);
	}
}

int main(int argc, char **argv) {
	int rcvbuf = 8 << 20;
	int c;
	while ((c = getopt(argc, argv, "b:")) != -1) {
		if (c == 'b') rcvbuf = atoi(optarg);
		else {
			fprintf(stderr, "usage: nullaudit [-b RCVBUF]\n");
			return 2;
		}
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal; // no SA_RESTART: recv returns EINTR
	sigaction(SIGINT, &sa, 0);
	sigaction(SIGTERM, &sa, 0);

	int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT);
	if (s < 0) {
		perror("nullaudit: socket");
		return 1;
	}
	if (setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0) {
		perror("nullaudit: SO_RCVBUFFORCE");
		return 1;
	}
	struct sockaddr_nl addr = {.nl_family = AF_NETLINK};
	if (bind(s, (struct sockaddr *)&addr, sizeof addr) < 0) {
		perror("nullaudit: bind");
		return 1;
	}
	int err = set_pid(s, (unsigned)getpid(), 1);
	if (err != 0) {
		fprintf(stderr, "nullaudit: registering as the audit daemon: %s\n", strerror(-err));
		return 1;
	}
	printf("ready\n");
	fflush(stdout);

	static char buf[1 << 16];
	long long frames = 0, bytes = 0, enobufs = 0;
	while (!stop) {
		ssize_t n = recv(s, buf, sizeof buf, 0);
		if (n > 0) {
			frames++;
			bytes += n;
		} else if (n < 0 && errno == ENOBUFS) {
			enobufs++;
		} else if (n < 0 && errno != EINTR) {
			perror("nullaudit: recv");
			break;
		}
	}
	// Unregister; what is left in the socket is discarded with it.
	struct {
		struct nlmsghdr h;
		struct audit_status st;
	} m;
	memset(&m, 0, sizeof m);
	m.h.nlmsg_len = sizeof m;
	m.h.nlmsg_type = AUDIT_SET;
	m.h.nlmsg_flags = NLM_F_REQUEST;
	m.st.mask = AUDIT_STATUS_PID;
	send(s, &m, sizeof m, 0);
	printf("frames=%lld bytes=%lld enobufs=%lld\n", frames, bytes, enobufs);
	return 0;
}
