/*
 * Socket addresses and [socket:NAME] settings, as data: parsed, formatted,
 * matched, copied and compared. Opening sockets is listen.c's.
 */
#ifndef CLUSTERD_ADDR_H
#define CLUSTERD_ADDR_H

#include <stddef.h>
#include <sys/socket.h>

struct addr {
	int			 family;	/* AF_INET6, AF_INET, AF_UNIX */
	int			 type;		/* SOCK_STREAM, SOCK_DGRAM */
	int			 dualstack;	/* ":PORT": [::] with V6ONLY off */
	struct sockaddr_storage	 ss;
	socklen_t		 len;
};

/* One [socket:NAME] section or -l option. Ints are -1 when unset. */
struct sock_cfg {
	char		*name;
	char		*listen;	/* the address as written */
	struct addr	 addr;
	int		 backlog;
	int		 reuseport;
	int		 mode;		/* UNIX socket file mode, -1: umask */
	char		*owner;
	char		*group;
	int		 ipv6only;
	int		 freebind;
	int		 nodelay;
	double		 defer_accept;	/* seconds, < 0 unset */
	int		 keepalive;
	int		 rcvbuf;
	int		 sndbuf;
	int		 transparent;
	int		 adopt_fd;	/* inherited from the service manager, or -1 */
	int		 carried;	/* adopt_fd is clusterd's own, kept over an upgrade */
	const char	*file;		/* where it was defined, for messages */
	int		 line;
};

/* Parse ADDR into a; on error return -1 with a message in err. */
int	 addr_parse(const char *s, struct addr *a, char *err, size_t errlen);
/* "127.0.0.1:80", "[::]:80", "unix:/p", "unix:@n", "udp:..." */
void	 addr_format(const struct sockaddr *, socklen_t, int type, char *buf,
	    size_t len);
/* Is a socket bound to ss (and of type) good for the address a asks for?
 * A wildcard ":PORT" takes any address; port 0 takes any port. */
int	 addr_matches(const struct sockaddr_storage *ss, socklen_t len, int type,
	    const struct addr *a);
void	 sock_cfg_init(struct sock_cfg *);
struct sock_cfg *sock_cfg_dup(const struct sock_cfg *);
void	 sock_cfg_free(struct sock_cfg *);
/* Same address and options: a reload keeps the bound socket. */
int	 sock_cfg_equal(const struct sock_cfg *, const struct sock_cfg *);
/* Same socket, perhaps with other options that can change in place
 * (backlog, nodelay, keepalive, defer_accept, buffers). */
int	 sock_cfg_same_socket(const struct sock_cfg *, const struct sock_cfg *);

#endif
