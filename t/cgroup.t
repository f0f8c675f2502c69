# Per-worker cgroups (issue 13): containment and accounting on a v2
# hierarchy, with or without controllers (this host's is controller-less, at
# /sys/fs/cgroup/unified).  Each worker starts in its own cgroup,
# <base>/worker-ID.gGEN; whatever it starts stays in it, setsid'd and
# daemonized descendants too, and goes with it: on a replacement, a rolling
# restart, a stop, and at the next start after clusterd was SIGKILLed.
# cgroups = no keeps the old behaviour; cgroups = yes where the hierarchy is
# read-only refuses to start, auto warns once and serves.  status shows the
# mode and, per worker, pids.current and cpu.stat's usage_usec, compared here
# with /proc.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;
use POSIX qw(sysconf _SC_CLK_TCK);
use Time::HiRes qw(time);

plan skip_all => 'per-worker cgroups need root here (the v2 hierarchy is root\'s)'
    unless $> == 0;
my ($MNT, $OWN) = cgroup2_self();
plan skip_all => 'no cgroup2 hierarchy mounted' unless $MNT;
{
	my $probe = cgroup2_dir(cgroup2_join($OWN, "clusterd-t-probe-$$"));
	mkdir($probe) or plan skip_all => "this process's v2 cgroup "
	    . cgroup2_dir($OWN) . " is not writable: $!";
	rmdir($probe);
}
plan skip_all => '/usr/bin/unshare is missing' unless -x '/usr/bin/unshare';

my $FAMILY = "$TOP_SRCDIR/t/bin/family-worker";
my $HZ = sysconf(_SC_CLK_TCK) || 100;
my $n = 0;

# A config for one clusterd: its file, control socket, name, port, base
# cgroup (as /proc/PID/cgroup names it) and the family files' directory.
sub setup {
	my (%o) = @_;
	my $k = ++$n;
	my $t = { name => "t-cg-$$-$k", port => free_port(),
	    ctl => "$TMPDIR/cg$k.sock", dir => "$TMPDIR/fam$k" };
	mkdir($t->{dir}) or die "$t->{dir}: $!";
	$t->{base} = cgroup2_join($OWN, "clusterd.$t->{name}");
	$t->{conf} = write_file("$TMPDIR/cg$k.conf", <<"EOF");
[clusterd]
workers = @{[ $o{workers} // 2 ]}
name = $t->{name}
control = $t->{ctl}
stop_timeout = @{[ $o{stop_timeout} // '1s' ]}
cgroups = $o{cgroups}
[socket:http]
listen = 127.0.0.1:$t->{port}
[program]
command = /usr/bin/perl $FAMILY --family $t->{dir}
@{[ $o{program} // '' ]}
[env]
FAMILY_IGNORE_TERM = @{[ $o{ignore} // 'none' ]}
EOF
	return $t;
}

sub start {
	my ($t, %o) = @_;
	return start_clusterd(args => ['-c', $t->{conf}], %o);
}

sub gone {
	my (@pids) = @_;
	return !grep { alive($_) } @pids;
}

# The worker's row of status --json.
sub row {
	my ($st, $id) = @_;
	my ($w) = grep { $_->{id} == $id && $_->{state} eq 'ready' }
	    @{ ($st // {})->{workers} // [] };
	return $w // {};
}

# CPU seconds (utime + stime) of @pids from /proc/PID/stat.
sub proc_cpu_sum {
	my $sum = 0;
	$sum += proc_cpu($_) // 0 for @_;
	return $sum;
}

# 1. cgroups = no: the old behaviour; workers stay in clusterd's cgroup and
# nothing is created.
{
	my $t = setup(cgroups => 'no', workers => 1);
	my $c = start($t);
	my $f = wait_family($t->{dir}, 0, 1);
	ok($f, 'cgroups = no: the family worker started its daemon and setsid child')
	    or BAIL_OUT('the family worker does not start');
	my $cg = proc_cgroup2($c->pid);
	is_deeply([map { proc_cgroup2($_) } @$f{qw(worker daemon setsid)}],
	    [$cg, $cg, $cg], "cgroups = no: the worker and its descendants are in clusterd's own cgroup ($cg)");
	ok(!-e cgroup2_dir($t->{base}), 'cgroups = no: no base cgroup was created');
	ok(!$c->log_matches(qr/^clusterd: cgroups: workers in /m),
	    'cgroups = no: no "cgroups: workers in" line');
	my $st = ctl_status($t->{ctl});
	is(($st->{cgroups} // {})->{mode}, 'off', 'cgroups = no: status --json says mode off');
	kill TERM => $c->pid;
	is(wait_exit($c, 10), 0, 'cgroups = no: SIGTERM, exit 0');
	# Today's behaviour: the setsid'd descendants survive it.
	kill KILL => $f->{daemon}, $f->{setsid};
	wait_for(sub { gone($f->{daemon}, $f->{setsid}) }, 5, 'the descendants to go');
}

# 2. memory_max with cgroups = no is refused, nothing runs.
{
	my $t = setup(cgroups => 'no', program => 'memory_max = 150M');
	my ($code, $out, $err) = run_clusterd(args => ['-c', $t->{conf}]);
	is($code, 2, 'memory_max with cgroups = no: exit 2');
	like($err, qr/memory_max needs per-worker cgroups \(cgroups: off: [^)]+\)/,
	    'memory_max with cgroups = no: the message says it needs per-worker cgroups')
	    or diag($err);
	unlike($err, qr/worker \d+ \(pid \d+\) started/, 'memory_max with cgroups = no: no worker started');
	is_deeply([tagged_pids()], [], 'memory_max with cgroups = no: nothing is left running');
}

# 3. cgroups = yes: every worker and its descendants in the worker's own
# cgroup, accounting, and containment on replace, rolling restart and stop.
# The daemons ignore SIGTERM: only cgroup.kill after stop_timeout ends them.
my $t = setup(cgroups => 'yes', ignore => 'daemon');
my $c = start($t);
my $basedir = cgroup2_dir($t->{base});
ok($c->wait_log(qr/^clusterd: 2 workers ready$/m, 10), 'cgroups = yes: 2 workers ready')
    or BAIL_OUT('clusterd with cgroups = yes does not start');
# "..., controllers: none, memory: cgroup v1 PATH" on a hybrid host,
# "..., controllers: memory pids cpu" on a pure v2 one: memory either way.
ok($c->log_matches(qr/^clusterd: cgroups: workers in \Q$basedir\E, controllers: .*\bmemory\b/m),
    "log: cgroups: workers in $basedir, with its controllers and memory mode")
    or diag(log_text($c));
is(proc_cgroup2($c->pid), cgroup2_join($t->{base}, 'supervisor'),
    'clusterd moved itself into <base>/supervisor');

my %fam;
for my $id (0, 1) {
	$fam{$id} = wait_family($t->{dir}, $id, 1) or BAIL_OUT("no family of worker $id");
	my $cg = cgroup2_join($t->{base}, "worker-$id.g1");
	for my $who (qw(worker daemon setsid)) {
		is(proc_cgroup2($fam{$id}{$who}), $cg,
		    "worker $id: the $who ($fam{$id}{$who}) is in $cg");
	}
	ok(-d cgroup2_dir($cg), "worker $id: its cgroup directory exists");
	isnt((proc_stat($fam{$id}{daemon}) // {})->{ppid}, $fam{$id}{worker},
	    "worker $id: the daemon is no child of the worker (double fork)");
	is((proc_stat($fam{$id}{setsid}) // {})->{sid}, $fam{$id}{setsid},
	    "worker $id: the setsid child leads its own session");
}

# status: the mode, text and json; per worker its cgroup and figures.
my ($code, $out) = clusterctl($t->{ctl}, 'status');
is($code, 0, 'clusterctl status exits 0');
like($out, qr/^command: .*\ncgroups: v2 \Q$basedir\E, controllers: .*\bmemory\b/m,
    "status: \"cgroups: v2 $basedir, ... memory: ...\" after the command line")
    or diag($out);
# The figures: the spec's columns after RESTARTS, or a table of their own.
my $w0 = $fam{0}{worker};
like($out, qr/^ID\s+PID\s+(?:.*\s)?MEMORY\s+CPU\s+TASKS\s+OOM\b(?:.*\n)+0\s+$w0\s.*\b3\s/m,
    'status: the worker table has MEMORY CPU TASKS OOM; TASKS of worker 0 is 3') or diag($out);
my $st = ctl_status($t->{ctl});
like(($st->{cgroups} // {})->{mode} // '', qr/^v2(?:\+v1-memory)?$/,
    'status --json: cgroups.mode is v2 or v2+v1-memory');
is(($st->{cgroups} // {})->{path}, $basedir, 'status --json: cgroups.path is the base');
for my $id (0, 1) {
	my $cg = row($st, $id)->{cgroup} // {};
	like($cg->{path} // '', qr{^(?:\Q$basedir\E/)?worker-$id\.g1$},
	    "status --json: worker $id: cgroup.path is worker-$id.g1 (in the base)");
	my @procs = cgroup2_pids(cgroup2_join($t->{base}, "worker-$id.g1"));
	is(scalar(@procs), 3, "worker $id: /proc finds 3 processes in its cgroup");
	is($cg->{pids_current}, scalar(@procs),
	    "status --json: worker $id: pids_current is that count");
	# null where there is no memory cgroup to count them (no memory_*).
	ok(exists $cg->{oom_kills} && !$cg->{oom_kills},
	    "status --json: worker $id: oom_kills 0 or null");
}

# CPU: cpu.stat's usage_usec counts every process that ever ran in the
# cgroup, so it is at least the utime + stime of the live ones.  /proc's
# figures are read first; each is rounded down to a clock tick, and a
# running task's may include up to a scheduler tick that its cgroup has not
# been charged yet, so each process may be ahead by one tick: 1/HZ + 4 ms.
# After the worker spins for 300 ms of its own CPU time (times(2), in
# ticks), the cgroup has at least 300 ms minus a tick more.
{
	my $b0 = http_get('127.0.0.1', $t->{port}, '/burn/1') // '';
	my ($id, $pid) = $b0 =~ /^hello world from worker (\d) \(pid (\d+)\)$/
	    or BAIL_OUT("the family worker does not answer: \"$b0\"");
	my $cg = cgroup2_join($t->{base}, "worker-$id.g1");
	my $before = row(ctl_status($t->{ctl}), $id)->{cgroup}{cpu_usec};
	ok(defined $before && $before > 0, "worker $id: cpu_usec is there ($before)");
	# The burn goes to whichever worker accepts; ask until it is $id.
	my $burnt = 0;
	for (1 .. 20) {
		my $b = http_get('127.0.0.1', $t->{port}, '/burn/300', 10) // '';
		$burnt = 1, last if $b =~ /\(pid $pid\)$/;
	}
	ok($burnt, "worker $id burnt 300 ms of CPU");
	my @procs = cgroup2_pids($cg);
	my $proc = proc_cpu_sum(@procs);
	my $after = row(ctl_status($t->{ctl}), $id)->{cgroup}{cpu_usec} // 0;
	my $tick = 1 / $HZ + 0.004;
	cmp_ok($after - $before, '>=', (0.3 - $tick) * 1e6,
	    "worker $id: cpu_usec grew by at least 300 ms minus a tick");
	cmp_ok($after, '>=', ($proc - @procs * $tick) * 1e6,
	    sprintf("worker %d: cpu_usec %.3fs >= utime + stime of its %d processes (%.3fs) "
	    . "minus a tick each", $id, $after / 1e6, scalar(@procs), $proc));
	# The rest is what exited (the daemon's intermediate) and what ran
	# between the two reads: far under half a second.
	cmp_ok($after, '<=', ($proc + 0.5) * 1e6,
	    "worker $id: cpu_usec is not more than half a second above /proc's sum");
}

# A replacement: SIGKILL of worker 0 alone leaves its descendants; they are
# stopped (the daemon, which ignores SIGTERM, by cgroup.kill after
# stop_timeout) and the slot is replaced.
{
	my $f = $fam{0};
	kill KILL => $f->{worker};
	ok($c->wait_log(qr/^clusterd: worker 0 \(pid $f->{worker}\) killed by signal 9; 2 processes left in its cgroup: stopping them/m),
	    'log: worker 0 killed by signal 9; 2 processes left in its cgroup: stopping them')
	    or diag(log_text($c));
	ok(wait_for(sub { gone($f->{daemon}, $f->{setsid}) }, 10, 'the descendants of worker 0 to go'),
	    'its daemonized and setsid\'d descendants are gone');
	my $nf;
	ok(wait_for(sub { $nf = family_pids($t->{dir}, 0, 1);
	    $nf && $nf->{worker} != $f->{worker} }, 10, 'a new family of worker 0'),
	    'the slot is replaced');
	$fam{0} = wait_family($t->{dir}, 0, 1);
	like(proc_cgroup2($fam{0}{worker}) // '', qr{^\Q$t->{base}\E/worker-0\.g1(?:-\d+)?$},
	    'the replacement is in a cgroup of its own, worker-0.g1');
}

# A rolling restart: each old worker goes with its whole cgroup.
{
	my ($code, $out, $err) = run_clusterctl(args => ['-s', $t->{ctl}, 'restart'],
	    timeout => 30);
	is($code, 0, 'clusterctl restart exits 0') or diag($out, $err);
	my @old = map { values %{ $fam{$_} } } 0, 1;
	ok(wait_for(sub { gone(@old) }, 10, 'generation 1 to go'),
	    'nothing of generation 1 is left (workers, daemons, setsid children)')
	    or diag(join(' ', grep { alive($_) } @old));
	ok(wait_for(sub { !glob("$basedir/worker-*.g1*") }, 10, 'the g1 cgroups to go'),
	    'the cgroups of generation 1 are removed');
	for my $id (0, 1) {
		$fam{$id} = wait_family($t->{dir}, $id, 2);
		my $cg = cgroup2_join($t->{base}, "worker-$id.g2");
		is_deeply([map { proc_cgroup2($_) // 'gone' } @{ $fam{$id} // {} }{qw(worker daemon setsid)}],
		    [$cg, $cg, $cg], "generation 2: worker $id and its descendants are in $cg");
	}
}

# clusterctl stop: nothing of them is left when clusterd has exited, and the
# base is removed.
{
	my ($code, $out, $err) = run_clusterctl(args => ['-s', $t->{ctl}, 'stop'],
	    timeout => 15);
	is($code, 0, 'clusterctl stop exits 0') or diag($out, $err);
	is(wait_exit($c, 15), 0, 'clusterd exits 0');
	my @all = map { values %{ $fam{$_} // {} } } 0, 1;
	ok(@all == 6 && gone(@all), 'stop: no worker, daemon or setsid child is left once clusterd has exited')
	    or diag(join(' ', grep { alive($_) } @all));
	ok(!-e $basedir, "stop: the base $basedir is removed");
}

# 4. SIGKILL of clusterd: workers (which ignore the parent-death SIGTERM)
# and descendants survive; the next clusterd of that name kills them before
# it binds (they still hold the port), and says so.
{
	my $t = setup(cgroups => 'yes', ignore => 'all');
	my $c = start($t);
	my $basedir = cgroup2_dir($t->{base});
	my %f = map { $_ => wait_family($t->{dir}, $_, 1) } 0, 1;
	my @all = map { values %{ $f{$_} // {} } } 0, 1;
	is(scalar(@all), 6, 'two workers with two descendants each');
	kill KILL => $c->pid;
	is(wait_exit($c), 128 + 9, 'clusterd is SIGKILLed');
	ok(!grep({ !alive($_) } @all), 'its workers and their descendants survive it');
	ok(-d "$basedir/worker-0.g1" && -d "$basedir/worker-1.g1",
	    'their cgroups are still there');
	unlink(glob("$t->{dir}/family-*"));
	my $c2 = start($t);
	ok($c2->wait_log(qr/^clusterd: 2 workers ready$/m, 15), 'a new clusterd of the same name starts')
	    or diag(log_text($c2));
	my $log = log_text($c2);
	for my $id (0, 1) {
		like($log, qr/^clusterd: cgroups: killed 3 processes left in (?:\Q$basedir\E\/)?worker-$id\.g1 by an earlier clusterd\n(?:.*\n)*clusterd: listening on /m,
		    "log: cgroups: killed 3 processes left in worker-$id.g1 by an earlier clusterd, before binding");
	}
	ok(gone(@all), 'nothing of the old workers is left')
	    or diag(join(' ', grep { alive($_) } @all));
	like(http_get('127.0.0.1', $t->{port}) // '', qr/^hello world from worker \d \(pid \d+\)$/,
	    'the new workers serve');
	my %g = map { $_ => wait_family($t->{dir}, $_, 1) } 0, 1;
	my @new = map { values %{ $g{$_} // {} } } 0, 1;
	ok(!grep({ my $p = $_; grep { $_ == $p } @all } @new), 'they are new processes');
	kill TERM => $c2->pid;
	is(wait_exit($c2, 15), 0, 'SIGTERM: exit 0 (after stop_timeout: all ignore SIGTERM)');
	ok(@new == 6 && gone(@new), 'SIGTERM: nothing of them is left once clusterd has exited')
	    or diag(join(' ', grep { alive($_) } @new));
	ok(!-e $basedir, "SIGTERM: the base $basedir is removed");
}

# 5. A read-only v2 hierarchy (a private mount namespace where it is
# remounted read-only, as in a container without a private cgroup
# namespace): cgroups = yes refuses to start, auto warns once and serves.
sub start_ro {
	my ($t, %o) = @_;
	return start_clusterd(binary => '/usr/bin/unshare', args => ['-m', '/bin/sh',
	    '-c', 'mount -o remount,bind,ro "$0" && exec "$@"', $MNT, $CLUSTERD,
	    '-c', $t->{conf}], %o);
}
{
	my $t = setup(cgroups => 'yes');
	my $c = start_ro($t, split => 1);
	is(wait_exit($c, 10), 2, 'read-only cgroup2, cgroups = yes: exit 2');
	my $err = slurp($c->{err}) // '';
	like($err, qr/^clusterd: cgroups = yes(?::|, but) .*Read-only file system/m,
	    'read-only cgroup2, cgroups = yes: "cgroups = yes: REASON", the reason EROFS') or diag($err);
	unlike($err, qr/^clusterd: worker \d+ \(pid \d+\) started$/m,
	    'read-only cgroup2, cgroups = yes: no worker started');
	is_deeply([tagged_pids()], [], 'read-only cgroup2, cgroups = yes: nothing is left running');
	ok(!-e cgroup2_dir($t->{base}), 'read-only cgroup2, cgroups = yes: no base cgroup');
}
{
	my $t = setup(cgroups => 'auto', workers => 1);
	my $c = start_ro($t);
	ok($c->wait_log(qr/^clusterd: 1 worker ready$/m, 10), 'read-only cgroup2, cgroups = auto: it starts')
	    or diag(log_text($c));
	my @off = log_text($c) =~ /^clusterd: cgroups: off: .+$/mg;
	is(scalar(@off), 1, 'read-only cgroup2, cgroups = auto: one "cgroups: off: REASON" line')
	    or diag(log_text($c));
	like(http_get('127.0.0.1', $t->{port}) // '', qr/^hello world from worker 0 /,
	    'read-only cgroup2, cgroups = auto: it serves');
	my $st = ctl_status($t->{ctl});
	is(($st->{cgroups} // {})->{mode}, 'off', 'read-only cgroup2, cgroups = auto: status --json says off');
	like(($st->{cgroups} // {})->{reason} // '', qr/\S/, 'read-only cgroup2, cgroups = auto: with a reason');
	my $f = wait_family($t->{dir}, 0, 1);
	is(proc_cgroup2($f->{worker} // 0), proc_cgroup2($c->pid),
	    'read-only cgroup2, cgroups = auto: the worker is in clusterd\'s cgroup');
	kill TERM => $c->pid;
	is(wait_exit($c, 10), 0, 'read-only cgroup2, cgroups = auto: SIGTERM, exit 0');
	my @left = grep { defined } @{ $f // {} }{qw(daemon setsid)};
	kill KILL => @left;
	wait_for(sub { gone(@left) }, 5, 'the descendants to go');
}

done_testing();
