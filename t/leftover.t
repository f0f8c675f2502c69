# Nothing of a dead worker survives it (issue 11): what is left in a
# worker's process group when the worker exits, is replaced or stopped
# gets the stop signal, then SIGKILL after stop_timeout; clusterd exits only
# once it is gone, so the port is free.  With --subreaper, an orphan that
# escaped the group (setsid) and still holds a listening socket is named
# in the log and stopped the same way.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;
use IO::Socket::IP;
use Time::HiRes qw(time);

my $WORKER = "$TOP_SRCDIR/t/bin/leftover-worker";

# The leftover children serving on the port: {pid => [generation, worker id]}.
sub children {
	my %k;
	for my $p (tagged_pids()) {
		my $st = proc_stat($p) or next;
		next unless $st->{comm} eq 'leftover-child';
		my $env = proc_env($p) // {};
		$k{$p} = [$env->{CLUSTERD_GENERATION}, $env->{CLUSTERD_WORKER_ID}];
	}
	return \%k;
}

sub wait_children {
	my ($n, $what) = @_;
	my $k;
	wait_for(sub { $k = children(); keys(%$k) == $n }, 10,
	    $what // "$n leftover children");
	return $k;
}

# Who answers on the port: {"leftover GEN of worker ID (pid PID)" => count}
# over $n requests.
sub answers {
	my ($port, $n) = @_;
	my %a;
	for (1 .. $n) {
		my $b = http_get('127.0.0.1', $port, '/', 2) // 'no answer';
		chomp($b);
		$a{$b}++;
	}
	return \%a;
}

# Can a new listener bind the port right away (as clusterd would)?
sub bindable {
	my ($port) = @_;
	return IO::Socket::IP->new(LocalHost => '127.0.0.1', LocalPort => $port,
	    Proto => 'tcp', Listen => 1, ReuseAddr => 1) ? 1 : 0;
}

# 1. kill -9 of the worker: its child, which ignores SIGTERM, is killed
# after stop_timeout; the replacement's child alone answers.
my $port = free_port();
my $c = start_clusterd(args => ['--cgroups=no', '-n', 1, '-l', "127.0.0.1:$port", '-t', '1s',
    '-e', 'LEFTOVER_IGNORE_TERM=1', '--', '/usr/bin/perl', $WORKER]);
my ($w1) = $c->wait_log(qr/^clusterd: worker 0 \(pid (\d+)\) started$/m)
    or die "no worker started\n";
my $k = wait_children(1, 'the first worker\'s child');
my ($old) = keys %$k;
ok($old, "the worker ($w1) forked a child ($old) that serves the port");
is((proc_stat($old) // {})->{pgid}, $w1, 'the child is in the worker\'s group');
kill KILL => $w1;
ok($c->wait_log(qr/^clusterd: worker 0 \(pid $w1\) killed by signal 9; restarting now$/m),
    'log: the worker was killed and is restarted');
ok($c->wait_log(qr/^clusterd: worker 0 \(pid $w1\) left 1 process in its group; sending SIGTERM$/m),
    'log: worker 0 left 1 process in its group; sending SIGTERM');
ok(wait_for(sub { !alive($old) }, 5, "the old child $old to go"),
    'the old child is gone (it ignored SIGTERM)');
# clusterd logs this only when the group still has someone at the deadline.
like(log_text($c), qr/sending SIGTERM\n(?:.*\n)*clusterd: worker 0 \(pid $w1\): 1 process of its group did not stop within 1s; killing$/m,
    'log: it outlived SIGTERM and got SIGKILL after stop_timeout');
$k = wait_children(1, 'the new worker\'s child');
my ($new) = keys %$k;
isnt($new, $old, 'a new child serves');
my $a = answers($port, 20);
is_deeply([keys %$a], ["leftover 1 of worker 0 (pid $new)"],
    'every answer comes from the new child') or diag(explain($a));

# 2. A rolling restart leaves no old-generation process answering.
kill USR2 => $c->pid;
ok($c->wait_log(qr/^clusterd: rolling restart to generation 2 done$/m, 15),
    'rolling restart to generation 2 done');
ok(wait_for(sub { !alive($new) }, 5, "generation 1's child $new to go"),
    'the old generation\'s child is gone');
$k = wait_children(1, 'one child of generation 2');
is_deeply([values %$k], [['2', '0']], 'the only child left is of generation 2');
$a = answers($port, 20);
is_deeply([grep { !/^leftover 2 of worker 0 / } keys %$a], [],
    'every answer comes from generation 2') or diag(explain($a));

# 3. At stop, clusterd waits until the child (which ignores SIGTERM) is
# killed; then the port can be bound at once.
my ($gen2) = keys %$k;
kill TERM => $c->pid;
is(wait_exit($c, 10), 0, 'SIGTERM: exit 0');
ok(!alive($gen2), 'the child died before clusterd exited');
ok(bindable($port), 'the port can be bound at once');
my $c2 = start_clusterd(args => ['--cgroups=no', '-n', 1, '-l', "127.0.0.1:$port", '--',
    $HELLO]);
ok($c2->wait_log(qr/^clusterd: 1 worker ready$/m),
    'a new clusterd on the same port starts');
like(http_get('127.0.0.1', $port) // '', qr/^hello world from worker 0 /,
    'and answers');
kill TERM => $c2->pid;
is(wait_exit($c2), 0, 'it stops, exit 0');

# 4. A child that obeys SIGTERM goes at once when the worker crashes.
$port = free_port();
$c = start_clusterd(args => ['--cgroups=no', '-n', 2, '-l', "127.0.0.1:$port", '-t', '30s',
    '--', '/usr/bin/perl', $WORKER]);
$k = wait_children(2, 'two children');
my ($victim) = grep { $k->{$_}[1] eq '0' } keys %$k;
my $leader = (proc_stat($victim // 0) // {})->{pgid}
    or die "no child of worker 0\n";
kill KILL => $leader;
ok(wait_for(sub { !alive($victim) }, 5, 'the child to go'),
    'the child of the killed worker is gone');
ok(!$c->log_matches(qr/killing/), 'SIGTERM was enough');
ok(wait_for(sub { keys(%{ children() }) == 2 }, 10, 'two children again'),
    'the replacement forked its own');
kill TERM => $c->pid;
is(wait_exit($c, 10), 0, 'exit 0');
ok(!keys(%{ children() }), 'nothing is left at exit');
ok(bindable($port), 'the port can be bound at once');

# 5. --subreaper: a grandchild that left the group with setsid (a daemon's
# double fork) and holds the socket is found when its worker exits, named
# and stopped; one whose worker lives is left alone until that worker goes.
$port = free_port();
$c = start_clusterd(args => ['--cgroups=no', '--subreaper', '-n', 1, '-l',
    "127.0.0.1:$port", '-t', '1s', '-e', 'LEFTOVER_SETSID=1',
    '-e', 'LEFTOVER_IGNORE_TERM=1', '--', '/usr/bin/perl', $WORKER]);
($w1) = $c->wait_log(qr/^clusterd: worker 0 \(pid (\d+)\) started$/m)
    or die "no worker started\n";

# The grandchild of worker $id once its parent has exited (it is clusterd's
# child then), other than those in @not.
sub daemonized {
	my ($id, @not) = @_;
	my $gc;
	wait_for(sub {
		my $k = children();
		($gc) = grep { my $p = $_; $k->{$p}[1] eq $id && !grep { $_ == $p } @not }
		    keys %$k;
		return $gc && (proc_stat($gc) // {})->{ppid} == $c->pid;
	}, 10, "worker $id's daemonized grandchild");
	return $gc;
}
my $gc = daemonized(0) or die "no daemonized grandchild\n";
my $st = proc_stat($gc) // {};
isnt($st->{pgid}, $w1, 'the grandchild left the worker\'s group');
is($st->{ppid}, $c->pid, 'its parent is clusterd (--subreaper)');
kill KILL => $w1;
ok($c->wait_log(qr/^clusterd: pid $gc \(leftover-child\), not a worker, holds socket listen0 \(127\.0\.0\.1:$port\); sending SIGTERM$/m),
    'log: the orphan, its command and the socket it holds');
ok(wait_for(sub { !alive($gc) }, 5, 'the orphan to go'), 'the orphan is gone');
ok($c->log_matches(qr/^clusterd: pid $gc \(leftover-child\) did not stop within 1s; killing$/m),
    'log: it ignored SIGTERM and was killed');
my $gc2 = daemonized(0, $gc) or die "the replacement daemonized nothing\n";

# A second worker comes and goes: its grandchild is stopped, not worker
# 0's, whose worker lives.
kill TTIN => $c->pid;
my $gc3 = daemonized(1) or die "worker 1 daemonized nothing\n";
kill TTOU => $c->pid;
ok($c->wait_log(qr/^clusterd: pid $gc3 \(leftover-child\), not a worker, holds socket listen0 /m),
    'log: the scaled-away worker\'s orphan is named');
ok(wait_for(sub { !alive($gc3) }, 5, 'that orphan to go'), 'and stopped');
ok(alive($gc2) && !$c->log_matches(qr/^clusterd: pid $gc2 /m),
    'the orphan of the live worker 0 is left alone');

kill TERM => $c->pid;
is(wait_exit($c, 10), 0, 'SIGTERM: exit 0');
ok(!alive($gc2), 'the orphan holding the socket was stopped before the exit');
ok($c->log_matches(qr/^clusterd: pid $gc2 \(leftover-child\), not a worker, holds socket listen0 /m),
    'log: named when its worker stopped');
ok(bindable($port), 'the port can be bound at once');

done_testing();
