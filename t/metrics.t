# clusterctl metrics (issue 16; clusterd.conf(5), METRICS): the exposition
# passes `promtool check metrics` on scrapes taken during a rolling restart,
# a crash loop and a scale change, and each figure follows what happened: a
# SIGKILLed worker counts one exit (reason signal) and one start for its
# slot, a worker exiting 3 counts as exited, a scale-down's stops as
# stopped, a rolling restart as a rollout and a generation, a refused
# reload as refused, each control request by command and result; the
# counters survive `clusterctl upgrade`, and an upgrade from a clusterd that
# kept none still adopts the cluster.  The OpenMetrics variant is checked by
# a parser here (promtool reads the text format only).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;
use POSIX ();
use Time::HiRes qw(time);

my $PROMTOOL = '/usr/bin/promtool';
my $HAVE_PROMTOOL = -x $PROMTOOL;
my $n = 0;

# Scrape through clusterctl: (text, {series => value}); the series key is
# the sample line's name and labels as written.
sub scrape {
	my ($ctl, @opt) = @_;
	my ($code, $out, $err) = clusterctl($ctl, 'metrics', @opt);
	is($code, 0, "clusterctl metrics @opt exits 0") or diag($err);
	return parse($out);
}

# The same, untested, for polling (clusterd may not answer yet).
sub peek {
	my ($ctl) = @_;
	my ($code, $out) = clusterctl($ctl, 'metrics');
	return parse($code == 0 ? $out : '');
}

sub parse {
	my ($out) = @_;
	my %v;
	for (split /\n/, $out) {
		next if /^#/;
		$v{$1} = $2 if /^(\S+(?:\{.*\})?) (\S+)$/;
	}
	return ($out, \%v);
}

# promtool check metrics on one scrape's text.
sub promtool_ok {
	my ($text, $tag) = @_;
	SKIP: {
		skip("$PROMTOOL is missing (Debian's prometheus package)", 1)
		    unless $HAVE_PROMTOOL;
		my $f = write_file("$TMPDIR/scrape-" . ++$n . '.prom', $text);
		my $out = `$PROMTOOL check metrics < $f 2>&1`;
		is($?, 0, "promtool check metrics: $tag") or diag($out);
	}
}

sub exits {
	my ($v, $slot, $reason) = @_;
	return $v->{"clusterd_worker_exits_total{slot=\"$slot\",reason=\"$reason\"}"} // 0;
}

# Every exit counter of a slot but one reason's, summed.
sub other_exits {
	my ($v, $slot, $reason) = @_;
	my $sum = 0;
	for (keys %$v) {
		$sum += $v->{$_} if /^clusterd_worker_exits_total\{slot="$slot",reason="(\w+)"\}$/
		    && $1 ne $reason;
	}
	return $sum;
}

sub starts { $_[0]{"clusterd_worker_starts_total{slot=\"$_[1]\"}"} // 0 }
sub ctlreq { $_[0]{"clusterd_control_requests_total{command=\"$_[1]\",result=\"$_[2]\"}"} // 0 }

my $port = free_port();
my $ctl = "$TMPDIR/m.sock";
my $conf = "$TMPDIR/m.conf";

sub config {
	my (%o) = @_;
	write_file($conf, "[clusterd]\nworkers = 2\ncontrol = $ctl\n"
	    . "[socket:http]\nlisten = 127.0.0.1:$port\n"
	    . "[program]\ncommand = $HELLO\nready = 300ms\n"
	    . ($o{bad} ? "worker = 3\n" : '')
	    . "[env]\nGREETING = " . ($o{greeting} // 'one') . "\n"
	    . ($o{fail} ? "HELLO_FAIL = 1\n" : ''));
}

# --- a cluster at rest ---
config();
my $c = start_clusterd(args => ['-c', $conf]);
ok(wait_settled($ctl, 2, 1), '2 workers ready');
my ($text, $v) = scrape($ctl);
promtool_ok($text, 'at rest');
like($text, qr/^clusterd_build_info\{version="[^"]+",commit="[^"]+"\} 1$/m, 'build info');
is($v->{clusterd_workers_desired}, 2, 'workers_desired 2');
is($v->{'clusterd_workers{state="ready"}'}, 2, 'workers ready 2');
is($v->{$_}, 0, "$_ 0") for map { "clusterd_workers{state=\"$_\"}" } qw(starting stopping backoff);
is($v->{clusterd_generation}, 1, 'generation 1');
is(starts($v, $_), 1, "slot $_: one start") for 0, 1;
is(other_exits($v, $_, ''), 0, "slot $_: no exit") for 0, 1;
ok(!exists $v->{'clusterd_worker_last_exit_timestamp_seconds{slot="0"}'},
    'no last exit timestamp before an exit');
{
	my @st = split ' ', (slurp('/proc/' . $c->pid . '/stat') =~ s/^.*\) //sr);
	my ($btime) = slurp('/proc/stat') =~ /^btime (\d+)$/m;
	my $hz = POSIX::sysconf(POSIX::_SC_CLK_TCK()) || 100;
	my $want = $btime + $st[19] / $hz;
	ok(abs(($v->{process_start_time_seconds} // 0) - $want) < 0.02,
	    "process_start_time_seconds is clusterd's start ($v->{process_start_time_seconds} ~ $want)");
}
like($text, qr/^clusterd_socket_queue_depth\{socket="http"\} 0$/m, 'queue depth of socket http');
like($text, qr/^clusterd_socket_queue_limit\{socket="http"\} [1-9]\d*$/m, 'queue limit of socket http');
like($text, qr/^# TYPE clusterd_worker_exits_total counter$/m, 'text format: a counter\'s TYPE names it with _total');

# --- control requests: by command and result ---
{
	my ($t1, $a) = scrape($ctl);
	my ($code) = clusterctl($ctl, 'status');
	is($code, 0, 'clusterctl status');
	my @bad = ctl_request($ctl, "hello\n", 5);
	is($bad[0], 2, 'a bad request: code 2');
	my ($t2, $b) = scrape($ctl);
	is(ctlreq($b, 'status', 'ok') - ctlreq($a, 'status', 'ok'), 1, 'status ok: +1');
	is(ctlreq($b, 'invalid', 'bad_request') - ctlreq($a, 'invalid', 'bad_request'), 1,
	    'a request not understood: invalid/bad_request +1');
	is(ctlreq($b, 'metrics', 'ok') - ctlreq($a, 'metrics', 'ok'), 1,
	    'metrics ok: +1 (the scrape before)');
}

# --- SIGKILL: one exit with reason signal, one start, one restart ---
{
	my $st = ctl_status($ctl);
	my ($w1) = grep { $_->{id} == 1 } @{ $st->{workers} };
	my (undef, $a) = scrape($ctl);
	my $t0 = time();
	kill(KILL => $w1->{pid});
	ok(wait_for(sub { my $s = ctl_status($ctl); settled($s, 2)
	    && !grep { $_->{pid} == $w1->{pid} } @{ $s->{workers} } }, 5, 'slot 1 replaced'),
	    'slot 1 replaced after SIGKILL');
	my ($t, $b) = scrape($ctl);
	promtool_ok($t, 'after a SIGKILL');
	is(exits($b, 1, 'signal') - exits($a, 1, 'signal'), 1, 'slot 1: exits{reason=signal} +1');
	is(other_exits($b, 1, 'signal'), other_exits($a, 1, 'signal'),
	    'slot 1: no other exit counted');
	is(other_exits($b, 0, ''), other_exits($a, 0, ''), 'slot 0: no exit counted');
	is(starts($b, 1) - starts($a, 1), 1, 'slot 1: one more start');
	is(starts($b, 0), starts($a, 0), 'slot 0: no start');
	is($b->{'clusterd_worker_restarts_total{slot="1"}'}, 1, 'slot 1: one restart');
	is($b->{'clusterd_worker_restarts_total{slot="0"}'}, 0, 'slot 0: no restart');
	is($b->{'clusterd_worker_exit_signals_total{signal="SIGKILL"}'}, 1, 'exit_signals{SIGKILL} 1');
	my $ts = $b->{'clusterd_worker_last_exit_timestamp_seconds{slot="1"}'} // 0;
	ok($ts >= $t0 - 1 && $ts <= time() + 1, "slot 1: last exit timestamp $ts is now");
}

# --- a rolling restart: scraped while it runs ---
{
	my (undef, $a) = scrape($ctl);
	my $h = spawn_clusterctl(args => ['-s', $ctl, 'restart']);
	# Scraped over the socket here (fast), checked by promtool after.
	my (@during, $last);
	ok(wait_for(sub {
		my ($code, undef, $body) = ctl_request($ctl, "metrics\n", 5);
		if (($code // -1) == 0) {
			$last = $body;
			push(@during, $body)
			    if $body =~ /^clusterd_rollouts_total\{outcome="started"\} 1$/m
			    && $body =~ /^clusterd_rollouts_total\{outcome="succeeded"\} 0$/m;
		}
		return waitpid($h->{pid}, POSIX::WNOHANG()) == $h->{pid};
	}, 15, 'the restart'), 'rolling restart over');
	is($? >> 8, 0, 'clusterctl restart: exit 0');
	ok(@during > 0, scalar(@during) . ' scrapes taken while it ran');
	# The first, some in the middle, the last: promtool takes a while each.
	my @check = @during > 4 ? @during[0, $#during / 3, 2 * $#during / 3, -1] : @during;
	promtool_ok($check[$_], "during the rolling restart, scrape $_") for 0 .. $#check;
	ok(wait_settled($ctl, 2, 2), '2 ready, generation 2');
	my ($t, $b) = scrape($ctl);
	promtool_ok($t, 'after the rolling restart');
	is($b->{'clusterd_rollouts_total{outcome="started"}'}, 1, 'rollouts started 1');
	is($b->{'clusterd_rollouts_total{outcome="succeeded"}'}, 1, 'rollouts succeeded 1');
	is($b->{'clusterd_rollouts_total{outcome="rolled_back"}'}, 0, 'rollouts rolled_back 0');
	is($b->{clusterd_generation}, 2, 'generation 2');
	for my $s (0, 1) {
		is(exits($b, $s, 'stopped') - exits($a, $s, 'stopped'), 1,
		    "slot $s: the old worker counted as stopped");
		is(other_exits($b, $s, 'stopped'), other_exits($a, $s, 'stopped'),
		    "slot $s: nothing else counted");
		is(starts($b, $s) - starts($a, $s), 1, "slot $s: one start");
	}
	is($b->{'clusterd_worker_restarts_total{slot="0"}'}, 0, 'a rollout is no restart');
}

# --- a refused reload, then an applied one ---
{
	config(bad => 1);
	my ($code) = clusterctl($ctl, 'reload');
	is($code, 1, 'reload of a bad config: exit 1');
	my (undef, $b) = scrape($ctl);
	is($b->{'clusterd_reloads_total{result="refused"}'}, 1, 'reloads refused 1');
	is($b->{'clusterd_reloads_total{result="applied"}'}, 0, 'reloads applied 0');
	is(ctlreq($b, 'reload', 'failed'), 1, 'control: reload failed 1');
	config();
	($code) = clusterctl($ctl, 'reload');
	is($code, 0, 'reload of the same config: exit 0');
	(undef, $b) = scrape($ctl);
	is($b->{'clusterd_reloads_total{result="applied"}'}, 1, 'reloads applied 1');
	is($b->{'clusterd_reloads_total{result="refused"}'}, 1, 'reloads refused still 1');
}

# --- a reload whose rolling restart is rolled back ---
{
	my (undef, $a) = scrape($ctl);
	config(fail => 1);
	my ($code) = clusterctl($ctl, 'reload');
	is($code, 1, 'reload to a program that fails: exit 1 (rolled back)');
	ok(wait_settled($ctl, 2, 2), 'back to generation 2, 2 ready');
	my ($t, $b) = scrape($ctl);
	promtool_ok($t, 'after a rollback');
	is($b->{'clusterd_reloads_total{result="failed"}'}, 1, 'reloads failed 1');
	is($b->{'clusterd_rollouts_total{outcome="started"}'}, 2, 'rollouts started 2');
	is($b->{'clusterd_rollouts_total{outcome="rolled_back"}'}, 1, 'rollouts rolled_back 1');
	is($b->{'clusterd_rollouts_total{outcome="succeeded"}'}, 1, 'rollouts succeeded still 1');
	is($b->{clusterd_generation}, 2, 'generation back to 2');
	is(exits($b, 0, 'exited') - exits($a, 0, 'exited'), 1,
	    'slot 0: the failed new worker counted as exited');
	is(($b->{'clusterd_worker_exit_codes_total{code="1"}'} // 0)
	    - ($a->{'clusterd_worker_exit_codes_total{code="1"}'} // 0), 1, 'exit_codes{code=1} +1');
	is($b->{'clusterd_worker_restarts_total{slot="0"}'},
	    $a->{'clusterd_worker_restarts_total{slot="0"}'}, 'a failed successor is no restart');
	config();
	($code) = clusterctl($ctl, 'reload');
	is($code, 0, 'reload of the first config again: exit 0');
}

# --- a scale change: the scaled-away workers stopped, no crash ---
{
	my (undef, $a) = scrape($ctl);
	my ($code) = clusterctl($ctl, 'scale', 4);
	is($code, 0, 'scale 4');
	my ($t, $mid) = scrape($ctl);
	promtool_ok($t, 'while scaling up');
	is($mid->{clusterd_workers_desired}, 4, 'workers_desired 4 at once');
	ok(wait_settled($ctl, 4), '4 ready');
	($code) = clusterctl($ctl, 'scale', 1);
	is($code, 0, 'scale 1');
	($t, $mid) = scrape($ctl);
	promtool_ok($t, 'while scaling down');
	is($mid->{clusterd_workers_desired}, 1, 'workers_desired 1');
	ok(wait_settled($ctl, 1), '1 ready');
	ok(wait_for(sub { my (undef, $x) = peek($ctl);
	    ($x->{'clusterd_workers{state="stopping"}'} // 1) == 0 }, 10, 'stops'),
	    'no worker stopping');
	my $b;
	($t, $b) = scrape($ctl);
	promtool_ok($t, 'after the scale change');
	is(starts($b, $_), 1, "slot $_: one start") for 2, 3;
	for my $s (1, 2, 3) {
		is(exits($b, $s, 'stopped') - exits($a, $s, 'stopped'), 1,
		    "slot $s: scaled away, counted as stopped");
		is(other_exits($b, $s, 'stopped') - other_exits($a, $s, 'stopped'), 0,
		    "slot $s: not as a crash");
		is($b->{"clusterd_worker_restarts_total{slot=\"$s\"}"} // 0,
		    $s == 1 ? 1 : 0, "slot $s: restarts unchanged");
	}
	is(other_exits($b, 0, ''), other_exits($a, 0, ''), 'slot 0: no exit');
	is($b->{'clusterd_workers{state="ready"}'}, 1, 'workers ready 1');
}

# --- OpenMetrics ---
{
	my ($t) = scrape($ctl, '--openmetrics');
	my @lines = split /\n/, $t;
	is($lines[-1], '# EOF', 'OpenMetrics: ends with # EOF');
	is(scalar(grep { $_ eq '# EOF' } @lines), 1, 'OpenMetrics: one # EOF');
	my (%type, @problems);
	for (@lines) {
		if (/^# TYPE (\S+) (\S+)$/) {
			push(@problems, "family $1 twice") if $type{$1};
			push(@problems, "counter family $1 named with _total") if $2 eq 'counter' && $1 =~ /_total$/;
			$type{$1} = $2;
		} elsif (/^# (HELP|EOF)/) {
		} elsif (/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/) {
			my $name = $1;
			my ($fam) = grep { $type{$_} } ($name =~ /^(.*)_total$/ ? ($1) : ()),
			    ($name =~ /^(.*)_info$/ ? ($1) : ()), $name;
			if (!$fam) {
				push(@problems, "sample $name: no family");
			} elsif ($type{$fam} eq 'counter' && $name ne "${fam}_total") {
				push(@problems, "counter sample $name: not ${fam}_total");
			} elsif ($type{$fam} eq 'info' && $name ne "${fam}_info") {
				push(@problems, "info sample $name: not ${fam}_info");
			}
		} else {
			push(@problems, "unparsable line: $_");
		}
	}
	is_deeply(\@problems, [], 'OpenMetrics: every family typed once, counters as NAME_total');
	is($type{clusterd_worker_exits}, 'counter', 'OpenMetrics: TYPE clusterd_worker_exits counter');
	is($type{clusterd_build}, 'info', 'OpenMetrics: TYPE clusterd_build info');
	like($t, qr/^clusterd_build_info\{version=/m, 'OpenMetrics: clusterd_build_info sample');
}

# --- per-worker cgroup figures, where clusterd has cgroups (memory with a
# memory limit: on a cgroup v1 memory hierarchy only limited workers get a
# memory cgroup) ---
{
	my $mctl = "$TMPDIR/mem.sock";
	my $mconf = write_file("$TMPDIR/mem.conf", "[clusterd]\nworkers = 2\n"
	    . "control = $mctl\n[socket:http]\nlisten = 127.0.0.1:" . free_port()
	    . "\n[program]\ncommand = $HELLO\nmemory_max = 256M\n");
	my $mc = start_clusterd(args => ['-c', $mconf]);
	# Without per-worker cgroups (a chroot without cgroup2) clusterd
	# refuses memory_max and exits 2.
	my $refused;
	wait_for(sub { ($refused = !alive($mc->pid)) || -S $mctl }, 10, 'clusterd to start');
	my $st = $refused ? undef : wait_settled($mctl, 2, 1);
	my ($w0) = grep { $_->{id} == 0 } @{ ($st // {})->{workers} // [] };
	my ($t, $b) = $refused ? ('', {}) : scrape($mctl);
	SKIP: {
		skip('clusterd runs without cgroups here: '
		    . ($refused ? ($mc->log_text =~ s/\s+\z//r) : (($st // {})->{cgroups}{reason} // 'no status')), 6)
		    unless $w0 && $w0->{cgroup};
		promtool_ok($t, 'with cgroups');
		for my $slot (0, 1) {
			ok(defined $b->{"clusterd_worker_cpu_seconds_total{slot=\"$slot\"}"},
			    "slot $slot: cpu seconds");
			ok(($b->{"clusterd_worker_pids{slot=\"$slot\"}"} // 0) >= 1, "slot $slot: pids >= 1");
		}
		SKIP: {
			skip('the workers\' cgroups have no memory figures here', 1)
			    unless defined $w0->{cgroup}{memory_current};
			ok(($b->{'clusterd_worker_memory_bytes{slot="0"}'} // 0) > 0,
			    "slot 0: memory bytes ($b->{'clusterd_worker_memory_bytes{slot=\"0\"}'})");
		}
	}
	if ($refused) {
		is($mc->wait_exit(10), 2, 'cgroups: without them, memory_max is refused (exit 2)');
		like($mc->log_text, qr/memory_max needs per-worker cgroups/, 'and it says why');
	} else {
		kill(TERM => $mc->pid);
		is($mc->wait_exit(10), 0, 'cgroups: clusterd stops');
	}
}

# --- a crash loop: a worker that exits 3 ---
{
	my $cctl = "$TMPDIR/crash.sock";
	my $cc = start_clusterd(args => ['-n', 1, '-l', 'none', '-s', $cctl, '--',
	    '/bin/sh', '-c', 'sleep 0.05; exit 3']);
	my $v;
	my $ok = 0;
	ok(wait_for(sub {
		my ($t, $x) = peek($cctl);
		$v = $x;
		promtool_ok($t, 'during a crash loop') if exits($x, 0, 'exited') == 1 && !$ok++;
		return exits($x, 0, 'exited') >= 3;
	}, 10, 'three exits'), 'the crash loop runs');
	is(other_exits($v, 0, 'exited'), 0, 'exit 3: reason exited, nothing else');
	is($v->{'clusterd_worker_restarts_total{slot="0"}'}, exits($v, 0, 'exited'),
	    'each exit restarted');
	my $alive = starts($v, 0) - exits($v, 0, 'exited');
	ok($alive == 0 || $alive == 1, "starts = exits (+ 1 running): $alive");
	is($v->{'clusterd_worker_exit_codes_total{code="3"}'}, exits($v, 0, 'exited'),
	    'exit_codes{code=3} = exits');
	kill(TERM => $cc->pid);
	is($cc->wait_exit(10), 0, 'the crash-looping clusterd stops: exit 0');
}

# --- the watchdog and ready_timeout reasons ---
for my $case (['watchdog', "watchdog = 500ms\n"],
    ['ready_timeout', "ready = notify\nready_timeout = 300ms\n"]) {
	my ($reason, $keys) = @$case;
	my $wctl = "$TMPDIR/$reason.sock";
	my $wconf = write_file("$TMPDIR/$reason.conf", "[clusterd]\nworkers = 1\n"
	    . "control = $wctl\n[socket:http]\nlisten = 127.0.0.1:" . free_port()
	    . "\n[program]\ncommand = $HELLO\n$keys");
	my $wc = start_clusterd(args => ['-c', $wconf]);
	my $v;
	ok(wait_for(sub { (undef, $v) = peek($wctl); exits($v, 0, $reason) >= 1 }, 10,
	    "an exit for $reason"), "$reason: counted");
	is(other_exits($v, 0, $reason), 0, "$reason: nothing else counted");
	is($v->{'clusterd_worker_restarts_total{slot="0"}'}, exits($v, 0, $reason),
	    "$reason: each one restarted");
	kill(TERM => $wc->pid);
	is($wc->wait_exit(10), 0, "$reason: clusterd stops");
}

# --- a hung worker (reuseport, hang_timeout): counted as a hang, its exit as hang ---
{
	my $hctl = "$TMPDIR/hang.sock";
	my $hport = free_port();
	my $hconf = write_file("$TMPDIR/hang.conf", "[clusterd]\nworkers = 1\n"
	    . "control = $hctl\nstop_timeout = 1s\nhang_timeout = 1s\n"
	    . "[socket:http]\nlisten = 127.0.0.1:$hport\nreuseport = yes\n"
	    . "[program]\ncommand = $HELLO\n");
	my $hc = start_clusterd(args => ['-c', $hconf]);
	my $st = wait_settled($hctl, 1, 1);
	ok($st, 'hang: 1 ready');
	my $pid = $st->{workers}[0]{pid};
	kill(STOP => $pid);
	my @conns = open_conns($hport, 3);
	my $v;
	ok(wait_for(sub { (undef, $v) = peek($hctl); exits($v, 0, 'hang') >= 1 }, 15,
	    'the hung worker replaced and gone'), 'hang: the hung worker\'s exit counted as hang');
	is($v->{'clusterd_worker_hangs_total{slot="0"}'}, 1, 'hang: hangs_total{slot=0} 1');
	is(other_exits($v, 0, 'hang'), 0, 'hang: nothing else counted');
	is(starts($v, 0), 2, 'hang: its successor started');
	close($_->{s}) for grep { $_->{s} } @conns;
	kill(TERM => $hc->pid);
	is($hc->wait_exit(10), 0, 'hang: clusterd stops');
}

# --- counters across clusterctl upgrade ---
my $ALT = "$TOP_BUILDDIR/t/alt/clusterd";
SKIP: {
	skip("$ALT is not built", 8) unless -x $ALT;
	my ($t1, $a) = scrape($ctl);
	my ($code, $out, $err) = clusterctl($ctl, 'upgrade', $ALT);
	is($code, 0, 'clusterctl upgrade') or diag($out, $err);
	ok(wait_settled($ctl, 1), 'the cluster still runs');
	my ($t2, $b) = scrape($ctl);
	promtool_ok($t2, 'after an upgrade');
	like($t2, qr/^clusterd_build_info\{version="[^"]*-alt"/m, 'the other build runs');
	my @diff = grep { /^clusterd_(worker_(starts|exits|restarts|hangs|exit_codes|exit_signals)|rollouts|reloads)_total/
	    && ($a->{$_} // -1) != ($b->{$_} // -1) } keys %$a;
	is_deeply(\@diff, [], 'worker, rollout and reload counters the same after the upgrade');
	ok(scalar(grep { /^clusterd_worker_exits_total/ } keys %$b) >= 40, 'every slot seen still there');
	ok(ctlreq($b, 'status', 'ok') >= ctlreq($a, 'status', 'ok') && ctlreq($a, 'status', 'ok') > 0,
	    'control counters carried');
	is($b->{process_start_time_seconds}, $a->{process_start_time_seconds},
	    'process_start_time_seconds: the same process');
}

# --- an upgrade from a clusterd that kept no metrics ---
SKIP: {
	skip("$ALT is not built", 4) unless -x $ALT;
	my $octl = "$TMPDIR/old.sock";
	my $oc = start_clusterd(args => ['-n', 2, '-l', '127.0.0.1:' . free_port(), '-s', $octl,
	    '--', $HELLO], env => { CLUSTERD_TEST_NO_METRICS_STATE => 1 });
	ok(wait_settled($octl, 2, 1), 'old: 2 ready');
	my ($code, $out, $err) = clusterctl($octl, 'upgrade', $ALT);
	is($code, 0, 'old: upgrade adopts a state without metrics') or diag($out, $err);
	ok(wait_settled($octl, 2, 1), 'old: the cluster still runs');
	my (undef, $b) = scrape($octl);
	is(starts($b, 0), 0, 'old: the counters start at zero');
	kill(TERM => $oc->pid);
	is($oc->wait_exit(15), 0, 'old: clusterd stops, exit 0');
}

kill(TERM => $c->pid);
is($c->wait_exit(15), 0, 'the first clusterd stops, exit 0');

done_testing();
