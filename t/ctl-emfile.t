# Out of descriptors (EMFILE): the control socket's accept() must not spin.
# clusterd runs with a low hard RLIMIT_NOFILE and control clients hold
# more connections than it has descriptors for; it stops accepting (one
# warning), stays idle, and answers again once the clients close theirs.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;
use IO::Socket::UNIX;
use Socket qw(SOCK_STREAM);
use Time::HiRes qw(time sleep);

my $PRLIMIT = '/usr/bin/prlimit';
plan(skip_all => 'no prlimit (util-linux)') unless -x $PRLIMIT;

my $ctl = "$TMPDIR/ctl.sock";
# prlimit execs clusterd in its own process: $c->pid is clusterd's.
my $c = start_clusterd(binary => $PRLIMIT, args => ['--nofile=48:48',
    $CLUSTERD, '-n', 1, '-l', '127.0.0.1:0', '-s', $ctl, '--', $HELLO]);
ok($c->wait_log(qr/^clusterd: 1 worker ready$/m), '1 worker ready');
my ($code) = ctl_request($ctl, "status\n", 5);
is($code, 0, 'status answers before');

# More connections than clusterd has descriptors left: the first ones are
# accepted, the rest wait in the backlog (128).
my @held;
for (1 .. 80) {
	my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $ctl) or last;
	push(@held, $s);
}
is(scalar(@held), 80, '80 control connections held open');
ok($c->wait_log(qr/^clusterd: control socket: accept: Too many open files; not accepting connections until a descriptor is free$/m),
    'log: accept: Too many open files; not accepting connections');

# Spinning on the readable socket costs a whole core; paused, clusterd
# wakes once a second. (Held connections are dropped after 10 s idle:
# the window ends well before.)
my $cpu0 = proc_cpu($c->pid);
my $t0 = time();
wait_for(sub { time() - $t0 >= 2 }, 3, 'a 2 s window');
my $cpu = proc_cpu($c->pid) - $cpu0;
cmp_ok($cpu, '<=', timeout(0.1),
    "out of descriptors: clusterd idle (${cpu}s CPU in 2 s)");
my $pauses = () = $c->log_text =~ /not accepting connections/g;
is($pauses, 1, 'the pause is logged once');
ok(alive($c->pid), 'clusterd runs');

# Closing them frees descriptors: it accepts and answers again.
@held = ();
ok(wait_for(sub { my ($x) = ctl_request($ctl, "status\n", 2); defined $x && $x == 0 }, 5,
    'status once the connections are closed'), 'status answers again (code 0)');
ok($c->wait_log(qr/^clusterd: control socket: accepting connections again$/m),
    'log: accepting connections again');
($code) = clusterctl($ctl, 'status');
is($code, 0, 'clusterctl status: exit 0');

kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');
done_testing();
