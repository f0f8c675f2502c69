# Hang and stall detection (issue 15, spec "Log lines", "status / --json",
# "Wake-ups"), with the kernel's accept queues as the only witness:
#
#  (a) reuseport, hang_timeout on: a SIGSTOPped worker with 5 connections in
#      its slot's queue is logged as hung within hang_timeout + 1 s, shows
#      "hung": true in status, and is replaced; the replacement (same slot
#      id, same socket) answers all 5; the stopped one gets the stop signal
#      and no SIGCONT (woken, it would take its queue before its successor),
#      so SIGKILL after stop_timeout (2s here).  Once with ready = 1s (the hung row stays
#      in status while its replacement gets ready), once with the default
#      ready = exec.
#  (b) a busy but progressing worker (one connection at a time, 200 ms each,
#      3 clients per worker so its queue is rarely empty) is never flagged
#      in 60 s.  It runs beside the other cases, on its own clusterd and port,
#      to keep make check short.
#  (c) a shared socket whose every worker is stopped: "the cluster is
#      stalled" in the log and "stalled": true in status; once they go on,
#      "connections are accepted again"; nobody is replaced.
#  (d) hang_timeout off (the default): a stopped worker is not flagged and
#      clusterd does not even wake up; hang_timeout on with every queue empty:
#      0 wake-ups too (voluntary context switches of clusterd's threads).
#  (e) hang_timeout = abc: a config error, FILE:LINE, exit 2.
#
# hang_timeout is 2s here, not the 10s of the examples: the detection has to
# be seen (and the busy run has to outlast it many times over) within a make
# check run, and 2 s is still long against loopback, where every other worker
# answers in about a millisecond.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Select;
use IO::Socket::IP;
use JSON::PP ();
use POSIX ();
use Time::HiRes qw(time sleep);
use Test::More;
use Clusterd;

my $HT = 2;	# hang_timeout, seconds

# Start a clusterd from a config of its own in $TMPDIR/NAME (its control
# socket there too: clusterd watches the control socket's directory, and
# load generators write their progress files in $TMPDIR, which would wake
# it up).  Returns {c, port, ctl}.
sub cluster {
	my ($name, %o) = @_;
	my $dir = "$TMPDIR/$name";
	mkdir($dir);
	my $port = free_port();
	my $s = "[clusterd]\nworkers = $o{workers}\ncontrol = $dir/ctl\n";
	$s .= "stop_timeout = $o{stop_timeout}\n" if defined $o{stop_timeout};
	$s .= "hang_timeout = $o{hang_timeout}\n" if defined $o{hang_timeout};
	$s .= "[socket:http]\nlisten = 127.0.0.1:$port\n";
	$s .= "reuseport = yes\n" if $o{reuseport};
	$s .= "[program]\ncommand = $HELLO\n";
	$s .= "ready = $o{ready}\n" if defined $o{ready};
	if ($o{env}) {
		$s .= "[env]\n";
		$s .= "$_ = $o{env}{$_}\n" for sort keys %{ $o{env} };
	}
	write_file("$dir/$name.conf", $s);
	my $c = start_clusterd(args => ['-c', "$dir/$name.conf"]);
	return { c => $c, port => $port, ctl => "$dir/ctl", name => $name };
}

# {id => pid} of a status --json.
sub slot_pids {
	my ($st) = @_;
	return { map { ($_->{id} => $_->{pid}) } @{ ($st // {})->{workers} // [] } };
}

sub worker_row {
	my ($st, $pid) = @_;
	my ($w) = grep { ($_->{pid} // 0) == $pid } @{ ($st // {})->{workers} // [] };
	return $w;
}



# Open connections until $n wait in the queue of the socket whose inode is
# $ino (the others, steered to other slots, are answered at once), in
# batches of as many as are still missing, so never more than $n, and
# quickly: the hang clock runs from the first one.  Stops early when $stop
# says so.  Returns (the connections, when the first waited, when the n-th
# did).
sub queue_into {
	my ($port, $ino, $n, $stop) = @_;
	my (@conns, $t1);
	my $q = sub { listen_sockets($port)->{$ino} // 0 };
	my $now = $q->();
	my $deadline = time() + timeout(10);
	while ($now < $n && @conns < 400 && time() < $deadline) {
		last if $stop && $stop->();
		my $need = $n - $now;
		my @batch = open_conns($port, $need);
		push(@conns, @batch);
		# each is answered by another slot or waits in this one
		my $end = time() + timeout(2);
		my $q2;
		while (1) {
			poll_conns(\@batch);
			$q2 = $q->();
			last if grep({ $_->{done} } @batch) + ($q2 - $now) >= $need
			    || time() > $end;
			sleep(0.002);
		}
		$now = $q2;
		$t1 //= time() if $now >= 1;
	}
	diag("only $now of $n connections wait in socket $ino, after " . scalar(@conns))
	    if $now < $n;
	return (\@conns, $t1, time());
}

# The log line of slot $id's worker $pid found hung.
sub hung_re {
	my ($id, $pid) = @_;
	return qr/^clusterd: worker $id \(pid $pid\): hung: (\d+) connections wait in its queue and it accepted none for (\d+\.\d)s \(queue (\d+) of (\d+)\): replacing it$/m;
}

# A hung worker's end: SIGSTOPped, it does not act on the stop signal and
# gets no SIGCONT, so it is killed once stop_timeout is over (the line may
# say why it was stopped after it).
sub killed_re {
	my ($id, $pid) = @_;
	return qr/^clusterd: worker $id \(pid $pid\) killed by signal 9(?: \(.*\))?$/m;
}

# === (b) first: the busy but progressing worker, 60 s in the background ===
my $B = cluster('busy', workers => 2, reuseport => 1, hang_timeout => "${HT}s",
    env => { HELLO_SERIAL => 1, HELLO_DELAY_MS => 200 });
my $bst = wait_settled($B->{ctl}, 2);
ok($bst, 'busy: 2 of 2 workers ready (HELLO_SERIAL=1, HELLO_DELAY_MS=200)')
    or BAIL_OUT('clusterd did not start');
my $bpids = slot_pids($bst);
my %bino = map { ($_ => fd_inode($bpids->{$_}, 3)) } keys %$bpids;
# 3 closed-loop clients per worker: each waits for its answer and comes
# again at once, so a worker serving one has about 2 waiting.
my @bload = map { start_load($B->{port}, timeout => 10, max => 120) } 1 .. 6;
ok(wait_load($_, 2, 10), 'busy: load client runs') for @bload;
my $bstart = time();
# A sampler of the slots' queues (from /proc/net/tcp, every 100 ms) for as
# long as the busy run lasts: how often, and how long on end, each was
# non-empty.
my $sfile = "$TMPDIR/busy-samples";
my $sampler = fork() // die "fork: $!";
if ($sampler == 0) {
	$SIG{$_} = 'DEFAULT' for qw(INT TERM HUP);
	my (%n, %since, %longest, $samples);
	while (!-e "$sfile.stop" && time() - $bstart < 120) {
		my $l = listen_sockets($B->{port});
		my $now = time();
		$samples++;
		for my $id (keys %bino) {
			if (($l->{ $bino{$id} } // 0) > 0) {
				$n{$id}++;
				$since{$id} //= $now;
				my $run = $now - $since{$id};
				$longest{$id} = $run if $run > ($longest{$id} // 0);
			} else {
				delete $since{$id};
			}
		}
		sleep(0.1);
	}
	write_file("$sfile.tmp", join('', "samples $samples\n",
	    map { sprintf("slot %d %d %.2f\n", $_, $n{$_} // 0, $longest{$_} // 0) }
	    sort keys %bino));
	rename("$sfile.tmp", $sfile);
	POSIX::_exit(0);
}
END {
	if ($sampler) {
		kill(KILL => $sampler);
		waitpid($sampler, 0);
	}
}

# === (d) hang_timeout on, every queue empty: 0 wake-ups; then (a) on the
# ===     same clusterd: a stopped worker with 5 connections waiting ===
my $A = cluster('hang', workers => 4, reuseport => 1, hang_timeout => "${HT}s", stop_timeout => '2s',
    ready => '1s');
my $ast = wait_settled($A->{ctl}, 4, undef, 10);
ok($ast, 'hang: 4 of 4 workers ready') or BAIL_OUT('clusterd did not start');
my $apid = $A->{c}->pid;
my $w0 = settle($apid);
ok(holds(sub { wakeups($apid) == $w0 }, 2),
    'hang_timeout on, every queue empty: clusterd does not wake up in 2 s')
    or diag('voluntary context switches: ' . $w0 . ' -> ' . wakeups($apid));
my $apids = slot_pids($ast);
my $victim = $apids->{1};
my $ino1 = fd_inode($victim, 3);
my $row = worker_row($ast, $victim) // {};
ok(JSON::PP::is_bool($row->{hung}) && !$row->{hung}, 'hang: worker 1: hung false at first');
my $limit1 = ($row->{queue} // {})->{limit};
ok(defined $limit1, 'hang: worker 1 has a queue limit in status (' . ($limit1 // 'none') . ')');

kill STOP => $victim;
ok(wait_for(sub { (proc_stat($victim) // {})->{state} eq 'T' }, 5, 'the stop'),
    "hang: worker 1 (pid $victim) stopped (SIGSTOP)");
my ($conns, $t1, $t5) = queue_into($A->{port}, $ino1, 5,
    sub { $A->{c}->log_matches(qr/hung:/) });
my @waiting = grep { !$_->{done} } @$conns;
is(listen_sockets($A->{port})->{$ino1}, 5, 'hang: 5 connections wait in slot 1\'s queue');
is(scalar(@waiting), 5, 'hang: 5 of ' . scalar(@$conns) . ' connections unanswered, '
    . 'the others answered by the other slots');
is(scalar(grep { !answer_of($_) } grep { $_->{done} } @$conns), 0,
    'hang: the others were answered');
my $st = ctl_status($A->{ctl});
$row = worker_row($st, $victim) // {};
is(($row->{queue} // {})->{depth}, 5, 'hang: status: worker 1\'s queue depth 5');
ok(!$row->{hung}, 'hang: status: not hung yet') if time() - $t1 < $HT - 0.5;

# Watch the log and status until the replacement has served the queue and
# the stopped worker is gone.
my $hung_re = hung_re(1, $victim);
my ($logged_at, $hung_row, @m);
wait_for(sub {
	my $now = time();
	if (!$logged_at && (@m = log_text($A->{c}) =~ $hung_re)) {
		$logged_at = $now;
	}
	my $s = ctl_status($A->{ctl});
	my $r = worker_row($s, $victim);
	$hung_row //= $r if $r && $r->{hung};
	poll_conns(\@waiting);
	return $logged_at && !alive($victim) && !grep { !$_->{done} } @waiting;
}, $HT + 10, 'the hang to be logged, the queue served and the stopped worker gone');
ok($logged_at, 'hang: log: worker 1 (pid N): hung: ... replacing it')
    or diag(log_text($A->{c}));
if ($logged_at) {
	my ($n, $for, $depth, $limit) = @m;
	my $after = $logged_at - $t5;
	cmp_ok($after, '<=', $HT + timeout(1),
	    sprintf('hang: logged %.2fs after the 5th connection waited (hang_timeout %ds + 1s)',
	    $after, $HT));
	cmp_ok($logged_at - $t1, '>=', $HT - 0.1,
	    sprintf('hang: not before hang_timeout (%.2fs after the 1st waited)', $logged_at - $t1));
	is($n, 5, 'hang: log: "5 connections wait in its queue"');
	ok($for >= $HT && $for <= $HT + 1, "hang: log: \"accepted none for ${for}s\" (2.0 to 3.0)");
	is("$depth of $limit", "5 of " . ($limit1 // '?'), "hang: log: (queue 5 of $limit1)");
}
ok($A->{c}->log_matches(qr/^clusterd: worker 1 \(pid $victim\): starting its replacement \(hung: no connection accepted for ${HT}s\)$/m),
    "hang: log: worker 1 (pid $victim): starting its replacement (hung: no connection accepted for ${HT}s)");
ok($hung_row, 'hang: status --json showed "hung": true for the stopped worker');
ok(!alive($victim), 'hang: the stopped worker is gone');
ok($A->{c}->log_matches(killed_re(1, $victim)),
    'hang: ... killed after stop_timeout: the stop signal, and no SIGCONT') or diag(log_text($A->{c}));
$st = wait_settled($A->{ctl}, 4, undef, 10);
my $now_pids = slot_pids($st);
my $new = $now_pids->{1} // 0;
isnt($new, $victim, "hang: slot 1 has a new worker (pid $new)");
is(fd_inode($new, 3), $ino1, 'hang: which has slot 1\'s socket as fd 3');
is((proc_env($new) // {})->{CLUSTERD_WORKER_ID}, 1, 'hang: and CLUSTERD_WORKER_ID=1');
is_deeply([map { $now_pids->{$_} } 0, 2, 3], [map { $apids->{$_} } 0, 2, 3],
    'hang: slots 0, 2 and 3 kept their workers');
my @bad = grep { my @a = answer_of($_); !@a || $a[0] != 1 || $a[1] != $new } @waiting;
is(scalar(@bad), 0, "hang: all 5 waiting connections answered by the replacement (worker 1, pid $new), 0 lost")
    or diag(join("\n", map { describe($_) } @bad));
$row = worker_row($st, $new) // {};
ok(JSON::PP::is_bool($row->{hung}) && !$row->{hung}, 'hang: the replacement: hung false');
is(($row->{queue} // {})->{depth}, 0, 'hang: the replacement: queue depth 0');
my ($code, $out, $err) = clusterctl($A->{ctl}, 'status');
like($out, qr/^ID\s+(?:\S+\s+)*?QUEUE\s+DROPS\s+HUNG\s+RECYCLE\b/m, 'hang: text status has the per-slot table')
    or diag($out);
close($_->{s}) for grep { $_->{s} } @$conns;
stop_ok($A->{c}, 'hang');

# === (a) again with ready = exec (the default): the replacement is ready at
# ===     once and the old worker is stopped at once; the queue is still
# ===     the replacement's to serve ===
my $E = cluster('hang-exec', workers => 4, reuseport => 1, hang_timeout => "${HT}s",
    stop_timeout => '2s');
my $est = wait_settled($E->{ctl}, 4);
ok($est, 'hang, ready = exec: 4 of 4 workers ready') or BAIL_OUT('clusterd did not start');
my $epids = slot_pids($est);
$victim = $epids->{1};
$ino1 = fd_inode($victim, 3);
kill STOP => $victim;
wait_for(sub { (proc_stat($victim) // {})->{state} eq 'T' }, 5, 'the stop');
($conns, $t1, $t5) = queue_into($E->{port}, $ino1, 5,
    sub { $E->{c}->log_matches(qr/hung:/) });
@waiting = grep { !$_->{done} } @$conns;
is(scalar(@waiting), 5, 'hang, ready = exec: 5 connections wait for the stopped worker 1');
$hung_re = hung_re(1, $victim);
my $logged = wait_for(sub { $E->{c}->log_matches($hung_re) }, $HT + 3, 'the hang');
my $after = time() - $t5;
ok($logged, 'hang, ready = exec: log: worker 1 hung: replacing it');
cmp_ok($after, '<=', $HT + timeout(1), sprintf('hang, ready = exec: within %.2fs of the 5th', $after));
ok(wait_for(sub { poll_conns(\@waiting) == @waiting && !alive($victim) }, 10,
    'the queue served and the stopped worker gone'),
    'hang, ready = exec: the 5 are done and the stopped worker is gone');
$st = wait_settled($E->{ctl}, 4);
$new = slot_pids($st)->{1} // 0;
@bad = grep { !answer_of($_) } @waiting;
is(scalar(@bad), 0, 'hang, ready = exec: all 5 answered, 0 lost')
    or diag(join("\n", map { describe($_) } @bad));
my %by;
$by{ join(' ', answer_of($_)) }++ for grep { answer_of($_) } @waiting;
is(join(', ', sort keys %by), "1 $new", "hang, ready = exec: all by the replacement (worker 1, pid $new), "
    . "none by the hung one (pid $victim)") or diag(join(', ', map { "$_: $by{$_}" } sort keys %by));
ok($E->{c}->log_matches(killed_re(1, $victim)),
    'hang, ready = exec: the stopped worker was killed after stop_timeout (no SIGCONT)');
close($_->{s}) for grep { $_->{s} } @$conns;
stop_ok($E->{c}, 'hang, ready = exec');

# === (c) a shared socket, every worker stopped: the cluster is stalled ===
my $C = cluster('stall', workers => 2, hang_timeout => "${HT}s");
my $cst = wait_settled($C->{ctl}, 2);
ok($cst, 'stall: 2 of 2 workers ready') or BAIL_OUT('clusterd did not start');
my $cpids = slot_pids($cst);
my ($cino) = keys %{ listen_sockets($C->{port}) };
my $climit = ((grep { $_->{name} eq 'http' } @{ $cst->{sockets} // [] })[0] // {})->{queue};
$climit = ($climit // {})->{limit};
kill STOP => values %$cpids;
ok(wait_for(sub { !grep { (proc_stat($_) // {})->{state} ne 'T' } values %$cpids }, 5, 'the stop'),
    'stall: both workers stopped');
($conns, $t1, $t5) = queue_into($C->{port}, $cino, 5);
is(listen_sockets($C->{port})->{$cino}, 5, 'stall: 5 connections wait in the shared socket\'s queue');
my $stall_re = qr/^clusterd: socket http: (\d+) connections wait and no worker accepted one for (\d+\.\d)s \(queue (\d+) of (\d+)\): the cluster is stalled$/m;
$logged = wait_for(sub { $C->{c}->log_matches($stall_re) }, $HT + 3, 'the stall');
$after = time() - $t5;
ok($logged, 'stall: log: socket http: 5 connections wait and no worker accepted one for ...: the cluster is stalled')
    or diag(log_text($C->{c}));
cmp_ok($after, '<=', $HT + timeout(1), sprintf('stall: logged %.2fs after the 5th waited', $after));
if (my ($n, $for, $depth, $limit) = log_text($C->{c}) =~ $stall_re) {
	is("$n; $depth of $limit", "5; 5 of " . ($climit // '?'), "stall: log: 5 connections, (queue 5 of $climit)");
	ok($for >= $HT && $for <= $HT + 1, "stall: log: for ${for}s (2.0 to 3.0)");
}
$st = ctl_status($C->{ctl});
my $sq = ((grep { $_->{name} eq 'http' } @{ ($st // {})->{sockets} // [] })[0] // {})->{queue} // {};
ok(JSON::PP::is_bool($sq->{stalled}) && $sq->{stalled}, 'stall: status --json: sockets[http].queue.stalled true');
is($sq->{depth}, 5, 'stall: status --json: depth 5');
is(scalar(grep { $_->{hung} } @{ ($st // {})->{workers} // [] }), 0,
    'stall: no worker is marked hung (on a shared socket none can be told apart)');
($code, $out, $err) = clusterctl($C->{ctl}, 'status');
like($out, qr/^ID\s+(?:\S+\s+)*?QUEUE\s+DROPS\s+HUNG\s+RECYCLE\b/m,
    'stall: text status has the per-slot table (hang_timeout on)') or diag($out);
kill CONT => values %$cpids;
my @cw = grep { !$_->{done} } @$conns;
ok(wait_for(sub { poll_conns(\@cw) == @cw }, 5, 'answers'), 'stall: SIGCONT: the 5 are answered');
is(scalar(grep { !answer_of($_) } @cw), 0, 'stall: all 5 answered, 0 lost')
    or diag(join("\n", map { describe($_) } grep { !answer_of($_) } @cw));
ok($C->{c}->wait_log(qr/^clusterd: socket http: connections are accepted again$/m),
    'stall: log: socket http: connections are accepted again');
ok(wait_for(sub {
	my $s = ctl_status($C->{ctl}) // return 0;
	my ($h) = grep { $_->{name} eq 'http' } @{ $s->{sockets} // [] };
	return JSON::PP::is_bool(($h->{queue} // {})->{stalled}) && !$h->{queue}{stalled};
}, 5, 'stalled false'), 'stall: status --json: stalled false again');
is_deeply(slot_pids(ctl_status($C->{ctl})), $cpids, 'stall: nobody replaced (the same pids)');
my $clog = log_text($C->{c});
is(scalar(() = $clog =~ /the cluster is stalled/g), 1, 'stall: logged once');
unlike($clog, qr/hung|replacement/, 'stall: no hung worker, no replacement in the log');
close($_->{s}) for grep { $_->{s} } @$conns;
stop_ok($C->{c}, 'stall');

# === (d) hang_timeout off: a stopped worker with a queue is not flagged,
# ===     and clusterd does not wake up for it ===
my $D = cluster('off', workers => 2, reuseport => 1);
my $dst = wait_settled($D->{ctl}, 2);
ok($dst, 'off: 2 of 2 workers ready') or BAIL_OUT('clusterd did not start');
my $dpids = slot_pids($dst);
$victim = $dpids->{1};
$ino1 = fd_inode($victim, 3);
kill STOP => $victim;
wait_for(sub { (proc_stat($victim) // {})->{state} eq 'T' }, 5, 'the stop');
($conns, $t1, $t5) = queue_into($D->{port}, $ino1, 3);
is(listen_sockets($D->{port})->{$ino1}, 3, 'off: 3 connections wait for the stopped worker 1');
my $dpid = $D->{c}->pid;
$w0 = settle($dpid);
ok(holds(sub { wakeups($dpid) == $w0 }, 2),
    'off: with all features off clusterd does not wake up in 2 s, though a queue is not empty')
    or diag('voluntary context switches: ' . $w0 . ' -> ' . wakeups($dpid));
ok(holds(sub { !$D->{c}->log_matches(qr/hung|stalled/) }, $HT + 1.5 - (time() - $t1)),
    'off: nothing logged as hung or stalled ' . ($HT + 1.5) . ' s after the queue filled');
$st = ctl_status($D->{ctl});
$row = worker_row($st, $victim) // {};
ok(JSON::PP::is_bool($row->{hung}) && !$row->{hung}, 'off: status: the stopped worker: hung false');
is(($row->{queue} // {})->{depth}, 3, 'off: status: its queue depth 3 (read on request)');
kill CONT => $victim;
@waiting = grep { !$_->{done} } @$conns;
ok(wait_for(sub { poll_conns(\@waiting) == @waiting }, 5, 'answers'), 'off: SIGCONT: the 3 are answered');
is(scalar(grep { my @a = answer_of($_); !@a || $a[1] != $victim } @waiting), 0,
    "off: by the same worker (pid $victim)");
is_deeply(slot_pids(ctl_status($D->{ctl})), $dpids, 'off: nobody replaced');
close($_->{s}) for grep { $_->{s} } @$conns;
stop_ok($D->{c}, 'off');

# === (e) a bad hang_timeout ===
{
	my $dir = "$TMPDIR/bad";
	mkdir($dir);
	write_file("$dir/web.conf", "[clusterd]\nhang_timeout = abc\n[program]\ncommand = sleep 1000\n");
	my ($code, $out, $err) = run_clusterd(args => ['-c', 'web.conf'], dir => $dir);
	is($code, 2, 'hang_timeout = abc: exit 2');
	like($err, qr/^clusterd: web\.conf:2: bad duration "abc" for hang_timeout\b/m,
	    'hang_timeout = abc: clusterd: web.conf:2: bad duration "abc" for hang_timeout');
	unlike($err, qr/started|listening/, 'hang_timeout = abc: nothing started');
}

# === (b) the end of the busy run ===
ok(wait_for(sub { time() - $bstart >= 60 }, 70, '60 s of the busy run'), 'busy: ran 60 s');
write_file("$sfile.stop", '');
wait_for(sub { -e $sfile }, 5, 'the sampler');
waitpid($sampler, 0);
$sampler = 0;
my $samples = slurp($sfile) // '';
diag("busy: queue samples (slot, non-empty samples, longest non-empty run): "
    . join('; ', split(/\n/, $samples)));
my ($total) = $samples =~ /^samples (\d+)$/m;
my %slot = map { /^slot (\d+) (\d+) (\S+)$/ ? ($1 => [$2, $3]) : () } split(/\n/, $samples);
is(scalar(grep { $_->[0] >= ($total // 1) / 2 } values %slot), 2,
    'busy: each slot\'s queue was non-empty in half of the samples or more (the load keeps it busy)');
cmp_ok((sort { $b <=> $a } map { $_->[1] } values %slot)[0] // 0, '>=', $HT,
    "busy: a slot's queue stayed non-empty for hang_timeout (${HT}s) or longer on end");
my $bsum = stop_loads(@bload);
is($bsum->{failed}, 0, "busy: none of $bsum->{ok} requests failed") or diag(join("\n", @{ $bsum->{errors} }));
cmp_ok($bsum->{ok}, '>=', 400, 'busy: the workers progressed (2 workers, 200 ms a request, 60 s)');
my $blog = log_text($B->{c});
unlike($blog, qr/hung|stalled|replacement/, 'busy: never flagged: no hung, stalled or replacement line in 60 s');
$st = ctl_status($B->{ctl});
is_deeply(slot_pids($st), $bpids, 'busy: the same workers (pids) as at the start');
is(scalar(grep { $_->{hung} } @{ ($st // {})->{workers} // [] }), 0, 'busy: status: none hung');
stop_ok($B->{c}, 'busy');

done_testing();
