# Per-worker memory limits (issue 13), with cgroup v2's memory controller or,
# where memory is only in cgroup v1 (hybrid hosts), v1's memory cgroups.
# (a) memory_high 100M + memory_max 150M: the worker that leaks (~20 MB/s
# under a paced load) is recycled gracefully before it reaches memory.max:
# no failed request, the other workers untouched, the replacement serves.
# (b) memory_max 150M alone: the worker is OOM-killed, its whole tree with
# it (a daemonized and a setsid'd descendant), the log and status say so,
# and the slot is replaced.  (c) status --json's memory_current of a worker
# agrees with the RSS of its processes in /proc.
#
# It assumes nothing of the host: it runs wherever clusterd accepts
# memory_max (this machine: v1 memory; a VM with a pure v2 hierarchy: v2
# memory), and skips where clusterd says per-worker cgroups or a memory
# controller are not available.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time sleep);

my $LEAK = "$TOP_SRCDIR/t/bin/leak-worker";
my $MB = 1024 * 1024;
my $n = 0;

sub setup {
	my (%o) = @_;
	my $k = ++$n;
	my $t = { name => "t-cgm-$$-$k", port => free_port(),
	    ctl => "$TMPDIR/cgm$k.sock", dir => "$TMPDIR/fam$k" };
	mkdir($t->{dir}) or die "$t->{dir}: $!";
	$t->{conf} = write_file("$TMPDIR/cgm$k.conf", <<"EOF");
[clusterd]
workers = $o{workers}
name = $t->{name}
control = $t->{ctl}
cgroups = $o{cgroups}
[socket:http]
listen = 127.0.0.1:$t->{port}
[program]
command = /usr/bin/perl $LEAK $o{leak}@{[ map { " $_" } @{ $o{args} // [] } ]}
@{[ join("\n", map { "$_ = $o{limits}{$_}" } sort keys %{ $o{limits} // {} }) ]}
EOF
	return $t;
}

# status --json's ready worker of slot $id.
sub row {
	my ($st, $id) = @_;
	my ($w) = grep { $_->{id} == $id && $_->{state} eq 'ready' }
	    @{ ($st // {})->{workers} // [] };
	return $w // {};
}

# A paced load: one client, a new connection per "GET /", $rate requests a
# second at most, each answered within $secs or failed; it ends after $max
# requests, after $for seconds or when asked.  Returns a handle for
# paced_stop, which returns {ok, failed, errors => [...], pids => {pid => n}}.
sub paced_start {
	my (%o) = @_;
	my $file = "$TMPDIR/paced-" . ++$n;
	my $pid = fork() // die "fork: $!";
	if ($pid == 0) {
		$SIG{$_} = 'DEFAULT' for qw(INT TERM HUP);
		my ($ok, $failed, %pids, @errors) = (0, 0);
		my $t0 = time();
		my $next = $t0;
		for (1 .. $o{max}) {
			last if -e "$file.stop" || time() - $t0 > timeout($o{for});
			my $wait = $next - time();
			sleep($wait) if $wait > 0;
			$next += 1 / $o{rate};
			my $s = time();
			my $b = http_get('127.0.0.1', $o{port}, '/', $o{secs});
			if (($b // '') =~ /^hello world from worker \d+ \(pid (\d+)\)\n\z/) {
				$ok++;
				$pids{$1}++;
			} else {
				$failed++;
				push(@errors, sprintf('%.2fs: no answer in %.2fs',
				    $s - $t0, time() - $s)) if @errors < 20;
			}
			write_file("$file.progress", "$ok $failed\n");
		}
		my $out = "ok $ok\nfailed $failed\n";
		$out .= "pid $_ $pids{$_}\n" for keys %pids;
		$out .= "error $_\n" for @errors;
		write_file("$file.tmp", $out);
		rename("$file.tmp", $file);
		POSIX::_exit(0);
	}
	return { pid => $pid, file => $file, secs => $o{secs} };
}

sub paced_progress {
	my ($l) = @_;
	my ($ok, $failed) = (slurp("$l->{file}.progress") // '0 0') =~ /(\d+) (\d+)/;
	return { ok => $ok // 0, failed => $failed // 0 };
}

sub paced_stop {
	my ($l) = @_;
	write_file("$l->{file}.stop", '');
	unless (wait_for(sub { waitpid($l->{pid}, WNOHANG) != 0 }, $l->{secs} + 5,
	    'the paced load to stop')) {
		kill(KILL => $l->{pid});
		waitpid($l->{pid}, 0);
	}
	my $r = { ok => 0, failed => 0, errors => [], pids => {} };
	for (split(/\n/, slurp($l->{file}) // "failed 1\nerror no result\n")) {
		$r->{$1} = $2 if /^(ok|failed) (\d+)$/;
		$r->{pids}{$1} = $2 if /^pid (\d+) (\d+)$/;
		push(@{ $r->{errors} }, $1) if /^error (.*)$/;
	}
	return $r;
}

# Does clusterd take memory_max here?  Where it cannot, it says why at
# start (per-worker cgroups off, or no memory controller), and that is the
# reason to skip; any other failure is one.
{
	my $t = setup(workers => 1, cgroups => 'auto', leak => 0,
	    limits => { memory_max => '150M' });
	my $c = start_clusterd(args => ['-c', $t->{conf}], split => 1);
	my $up = wait_for(sub { $c->log_matches(qr/^clusterd: 1 worker ready$/m)
	    || !alive($c->pid) }, 10, 'clusterd to start or give up')
	    && $c->log_matches(qr/^clusterd: 1 worker ready$/m);
	my ($why) = (slurp($c->{err}) // '') =~ /^clusterd: (.*(?:needs per-worker cgroups|controller).*)$/m;
	if (defined $why && !$c->log_matches(qr/^clusterd: 1 worker ready$/m)) {
		wait_exit($c, 10);
		plan skip_all => "clusterd takes no memory_max here: $why";
	}
	kill TERM => $c->pid;
	my $code = wait_exit($c, 10);
	unless ($up && defined $code && $code == 0) {
		diag(slurp($c->{err}) // '');
		BAIL_OUT('clusterd with memory_max neither starts nor says why not');
	}
}

# (a) memory_high 100M, memory_max 150M; three workers, slot 0 leaks 3 MB a
# request.  One client at 20 requests a second, of which slot 0 gets about a
# third (the kernel hands a shared socket's connections to the waiting
# workers in turn): ~20 MB/s, memory.high in about 5 s.
# (a') The same after an upgrade in place (clusterd(8), UPGRADING CLUSTERD):
# the new image watches the memory events of the workers it took over.
my $ALT = "$TOP_BUILDDIR/t/alt/clusterd";
for my $pass ('(a)', "(a')") {
	next if $pass ne '(a)' && !-x $ALT;
	my $t = setup(workers => 3, cgroups => 'yes', leak => 3,
	    args => ['--leak-slot', 0],
	    limits => { memory_high => '100M', memory_max => '150M' });
	my $c = start_clusterd(args => ['-c', $t->{conf}]);
	ok($c->wait_log(qr/^clusterd: 3 workers ready$/m, 10), "$pass 3 workers ready")
	    or BAIL_OUT('clusterd with memory_high and memory_max does not start');
	my $st = wait_settled($t->{ctl}, 3, 1);
	my @before = map { row($st, $_)->{pid} } 0 .. 2;
	if ($pass ne '(a)') {
		my ($code, $out, $err) = clusterctl($t->{ctl}, 'upgrade', $ALT);
		is($code, 0, "$pass upgraded in place") or diag($out, $err);
		is_deeply([map { row(ctl_status($t->{ctl}), $_)->{pid} } 0 .. 2], \@before,
		    "$pass the same workers");
	}
	my $p0 = $before[0] // 0;
	my $load = paced_start(port => $t->{port}, rate => 20, max => 1200,
	    for => 60, secs => 10);
	my ($using) = $c->wait_log(qr/^clusterd: worker 0 \(pid $p0\): memory\.high 100M crossed \(using (\d+(?:\.\d+)?)M\): recycling it$/m, 40);
	ok($using, "$pass log: worker 0 (pid $p0): memory.high 100M crossed (using ${\ ($using // '?')}M): recycling it")
	    or diag('load: ' . join(' ', %{ paced_progress($load) }));
	# Read just after the event: cgroup v1 tells on the crossing itself; v2's
	# memory.high makes the kernel reclaim the cgroup back under it first,
	# so a little below is what v2 shows. Far below would be a false alarm.
	ok(defined $using && $using >= 95 && $using < 150,
	    "$pass it was using 95M to 150M then (at or above memory.high, below memory.max)");
	my $new;
	ok(wait_for(sub { $new = row(ctl_status($t->{ctl}), 0)->{pid};
	    $new && $new != $p0 && !alive($p0) }, 20, 'the replacement of worker 0'),
	    "$pass slot 0 has a new ready worker and the old one is gone");
	# The replacement answers (it leaks too, but a few requests are far
	# from its limit).  It is ready once exec'd (ready = exec): perl may
	# take a while more to accept.
	my $r = paced_stop($load);
	my $served = $r->{pids}{$new // 0} || wait_for(sub {
	    (http_get('127.0.0.1', $t->{port}) // '') =~ /\(pid $new\)$/ }, 5,
	    "the replacement $new to answer");
	ok($served, "$pass the replacement ($new) serves");
	is($r->{failed}, 0, "$pass no failed request (of $r->{ok} answered)")
	    or diag(join("\n", @{ $r->{errors} }));
	like(log_text($c), qr/^clusterd: worker 0 \(pid $p0\) .*recycled: memory\.high 100M crossed/m,
	    "$pass log: the old worker's exit says \"recycled: memory.high 100M crossed\"");
	unlike(log_text($c), qr/OOM-killed/, "$pass nothing was OOM-killed");
	$st = ctl_status($t->{ctl});
	like(row($st, 0)->{last_exit} // '', qr/recycled: memory\.high 100M crossed/,
	    "$pass status --json: last_exit of slot 0 says it was recycled");
	is_deeply([map { row($st, $_)->{pid} } 1, 2], [@before[1, 2]],
	    "$pass workers 1 and 2 were not touched (same pids)");
	my @lines = log_text($c) =~ /^clusterd: worker 0 \(pid $p0\): memory\.high/mg;
	is(scalar(@lines), 1, "$pass one recycle of that worker");
	kill TERM => $c->pid;
	is(wait_exit($c, 15), 0, "$pass SIGTERM: exit 0");
}

# (b) memory_max 150M alone: the leaking worker of slot 0, which started a
# daemon and a setsid'd child, is OOM-killed with them.
{
	mkdir("$TMPDIR/famb") or die "$TMPDIR/famb: $!";
	my $t = setup(workers => 2, cgroups => 'yes', leak => 3,
	    args => ['--leak-slot', 0, '--family', "$TMPDIR/famb"],
	    limits => { memory_max => '150M' });
	my $c = start_clusterd(args => ['-c', $t->{conf}]);
	ok($c->wait_log(qr/^clusterd: 2 workers ready$/m, 10), '(b) 2 workers ready')
	    or BAIL_OUT('clusterd with memory_max does not start');
	my $f = wait_family("$TMPDIR/famb", 0, 1) or BAIL_OUT('(b) no family of worker 0');
	my $st = wait_settled($t->{ctl}, 2, 1);
	my $p0 = $f->{worker};
	is(row($st, 0)->{pid}, $p0, '(b) the family is worker 0\'s');
	my $p1 = row($st, 1)->{pid};
	my $load = paced_start(port => $t->{port}, rate => 20, max => 1200,
	    for => 60, secs => 10);
	ok($c->wait_log(qr/^clusterd: worker 0 \(pid $p0\) .*OOM-killed: memory\.max 150M/m, 40),
	    '(b) log: worker 0 ... OOM-killed: memory.max 150M')
	    or diag('load: ' . join(' ', %{ paced_progress($load) }));
	my $r = paced_stop($load);
	diag("(b) $r->{ok} requests answered, $r->{failed} failed");
	ok(wait_for(sub { !alive($p0) && !alive($f->{daemon}) && !alive($f->{setsid}) }, 10,
	    'worker 0 and its descendants to go'),
	    '(b) the worker, its daemon and its setsid\'d child are gone');
	my $new;
	ok(wait_for(sub { $new = row(ctl_status($t->{ctl}), 0)->{pid}; $new && $new != $p0 },
	    10, 'a new worker 0'), '(b) slot 0 is replaced');
	my ($code, $out) = clusterctl($t->{ctl}, 'status');
	like($out, qr/^0\s+$new\s+ready\s.*OOM-killed: memory\.max 150M/m,
	    '(b) status: LAST EXIT of slot 0 says OOM-killed: memory.max 150M') or diag($out);
	like(row(ctl_status($t->{ctl}), 0)->{last_exit} // '', qr/OOM-killed: memory\.max 150M/,
	    '(b) status --json: last_exit says it too');
	is(row(ctl_status($t->{ctl}), 1)->{pid}, $p1, '(b) worker 1 was not touched');
	like(http_get('127.0.0.1', $t->{port}) // '', qr/^hello world from worker \d \(pid \d+\)$/,
	    '(b) the pool serves');
	kill TERM => $c->pid;
	is(wait_exit($c, 15), 0, '(b) SIGTERM: exit 0');
}

# (c) memory_current against /proc: one worker, no descendants, that holds
# 64 MB.  The cgroup is charged once per page it faulted in: the worker's
# anonymous pages (RssAnon), the file pages it was first to read (the rest
# of its RssFile was charged to whoever read them first), kernel memory
# (page tables, socket buffers: a few MB) and up to a per-CPU charge batch
# (64 pages a CPU).  So it lies between 95% of RssAnon less 4 MB and VmRSS
# plus 5% and 8 MB.
{
	my $t = setup(workers => 1, cgroups => 'yes', leak => 16,
	    limits => { memory_max => '150M' });
	my $c = start_clusterd(args => ['-c', $t->{conf}]);
	ok($c->wait_log(qr/^clusterd: 1 worker ready$/m, 10), '(c) 1 worker ready')
	    or BAIL_OUT('clusterd with memory_max does not start');
	my $ok = 0;
	for (1 .. 4) {
		$ok++ if (http_get('127.0.0.1', $t->{port}, '/', 10) // '') =~ /^hello world/;
	}
	is($ok, 4, '(c) 4 requests: the worker holds 64 MB');
	my $w = row(ctl_status($t->{ctl}), 0);
	my @procs = cgroup2_pids(proc_cgroup2($w->{pid} // 0));
	is_deeply(\@procs, [$w->{pid}], '(c) the worker is alone in its cgroup');
	my %kb;
	for my $p (@procs) {
		my $s = slurp("/proc/$p/status") // '';
		$kb{$1} += $2 while $s =~ /^(VmRSS|RssAnon):\s+(\d+) kB$/mg;
	}
	my $mc = row(ctl_status($t->{ctl}), 0)->{cgroup}{memory_current};
	my ($rss, $anon) = map { ($kb{$_} // 0) * 1024 } qw(VmRSS RssAnon);
	ok(defined $mc, '(c) status --json: memory_current is there');
	is(row(ctl_status($t->{ctl}), 0)->{cgroup}{oom_kills}, 0, '(c) status --json: oom_kills 0');
	$mc //= 0;
	my $what = sprintf('memory_current %.1fM, VmRSS %.1fM, RssAnon %.1fM',
	    $mc / $MB, $rss / $MB, $anon / $MB);
	cmp_ok($anon, '>=', 64 * $MB, "(c) RssAnon holds the 64 MB ($what)");
	cmp_ok($mc, '>=', 0.95 * $anon - 4 * $MB, "(c) memory_current >= 95% of RssAnon - 4M ($what)");
	cmp_ok($mc, '<=', 1.05 * $rss + 8 * $MB, "(c) memory_current <= 105% of VmRSS + 8M ($what)");
	kill TERM => $c->pid;
	is(wait_exit($c, 15), 0, '(c) SIGTERM: exit 0');
}

# (d) Three workers that all leak cross memory_high about together; with
# the default recycle_batch = 1 they are recycled one at a time: no
# replacement starts before the one before it is ready (ready = 1s gives
# each recycle a second in which a second one would show).
{
	my $t = setup(workers => 3, cgroups => 'yes', leak => 2,
	    limits => { memory_high => '60M', memory_max => '200M', ready => '1s' });
	my $c = start_clusterd(args => ['-v', '-c', $t->{conf}]);
	ok($c->wait_log(qr/^clusterd: 3 workers ready$/m, 10), '(d) 3 workers ready')
	    or BAIL_OUT('clusterd does not start');
	my $load = paced_start(port => $t->{port}, rate => 30, max => 1500,
	    for => 60, secs => 10);
	my $three = wait_for(sub { my @r = log_text($c) =~ /^clusterd: worker \d+ \(pid \d+\) ready$/mg;
	    my @s = log_text($c) =~ /: starting its replacement \(recycled/mg;
	    @s >= 3 && @r >= 6 }, 40, 'three recycles done');
	my $r = paced_stop($load);
	ok($three, '(d) three workers were recycled') or diag(log_text($c));
	# Walk the log: a recycle runs from "starting its replacement" to its
	# successor's "ready".
	my ($running, $most, %want) = (0, 0);
	for (split(/\n/, log_text($c))) {
		if (/^clusterd: worker (\d+) \(pid \d+\): starting its replacement/) {
			$want{$1} = 1;
			$most = $running if ++$running > $most;
		} elsif (/^clusterd: worker (\d+) \(pid \d+\) ready$/ && delete $want{$1}) {
			$running--;
		}
	}
	is($most, 1, '(d) recycle_batch = 1: never two recycles at once');
	is($r->{failed}, 0, "(d) no failed request (of $r->{ok})")
	    or diag(join("\n", @{ $r->{errors} }));
	kill TERM => $c->pid;
	is(wait_exit($c, 15), 0, '(d) SIGTERM: exit 0');
}

done_testing();
