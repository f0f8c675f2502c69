# A rolling restart to a generation that cannot start rolls back by
# itself: a new worker that never says READY=1 (ready_timeout), or one that
# crashes at once, is stopped, the old workers keep serving (no failed
# request), slots already moved get the old program back, and clusterctl
# restart/reload exits 1 naming the worker and why.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;

# Generation 2 of slot $FAIL_SLOT misbehaves as $FAIL says.
my $script = write_file("$TMPDIR/deploy.sh", <<"END", 0755);
#!/bin/sh
if [ "\$CLUSTERD_GENERATION" = 2 ] && [ "\$CLUSTERD_WORKER_ID" = "\$FAIL_SLOT" ]
then
	case "\$FAIL" in
	never-ready) unset HELLO_NOTIFY ;;
	crash) export HELLO_FAIL=1 ;;
	esac
fi
exec $HELLO
END

sub pool {
	my ($tag, %env) = @_;
	my $port = free_port();
	my $ctl = "$TMPDIR/$tag.sock";
	my $env = join('', map { "$_ = $env{$_}\n" } sort keys %env);
	my $conf = write_file("$TMPDIR/$tag.conf", <<"END");
[clusterd]
workers = 3
control = $ctl
[socket:http]
listen = 127.0.0.1:$port
[program]
command = $script
ready = notify
ready_timeout = 1s
[env]
HELLO_NOTIFY = 1
$env
END
	my $c = start_clusterd(args => ['-c', $conf]);
	my @w = wait_generation($c->pid, 3, 1, 5, 'hello');
	is(scalar(@w), 3, "$tag: three workers of generation 1");
	ok($c->wait_log(qr/^clusterd: 3 workers ready$/m), "$tag: 3 workers ready");
	return ($c, $port, $ctl, $conf, @w);
}

sub slots { my %s = map { (proc_env($_)->{CLUSTERD_WORKER_ID} => $_) } @_; \%s }

# After a rollback: the status says generation 1, all ready, running.
sub status_ok {
	my ($ctl, $tag, $pids) = @_;
	my $st = ctl_status($ctl) // {};
	is($st->{generation}, 1, "$tag: status: back at generation 1");
	is($st->{state}, 'running', "$tag: status: running");
	is($st->{workers_ready}, 3, "$tag: status: 3 of 3 ready");
	is_deeply([sort { $a <=> $b } map { $_->{pid} // 0 } @{ $st->{workers} // [] }],
	    [sort { $a <=> $b } @$pids], "$tag: status: the pids that serve");
	ok(!(grep { $_->{generation} != 1 } @{ $st->{workers} // [] }),
	    "$tag: status: every worker of generation 1");
}

sub serve_all {
	my ($port, $pids, $tag) = @_;
	my $got = answers_from_all($pids, sub {
		my $b = http_get('127.0.0.1', $port) // '';
		return $b =~ /\(pid (\d+)\)\n\z/ ? $1 : undef;
	});
	is(scalar(grep { $got->{$_} } @$pids), scalar(@$pids),
	    "$tag: every one of them answers");
}

my $tmo = dur_re(1);

# --- generation 2 never becomes ready (slot 0): nothing moved yet ---
my ($c, $port, $ctl, $conf, @old) = pool('never', FAIL => 'never-ready',
    FAIL_SLOT => 0);
my $load = start_load($port);
ok(wait_load($load, 20), 'never: the load runs');
my ($code, $out, $err) = clusterctl($ctl, 'restart');
is($code, 1, 'never: clusterctl restart exits 1');
like($out . $err,
    qr/rolling restart to generation 2 failed: worker 0 \(pid \d+\) not ready within $tmo\b.*rolled back/,
    'never: clusterctl names worker 0 and says not ready within 1s; rolled back')
    or diag($out, $err);
# (a new worker of a rollout that misses ready_timeout: the failure line
# says it; the plain "not ready within 1s; stopping it" is in t/notify.t)
my ($bad) = $c->log_matches(qr/^clusterd: rolling restart to generation 2 failed: worker 0 \(pid (\d+)\) not ready within $tmo; rolling back$/m);
ok($bad, 'never: log: rolling restart to generation 2 failed: worker 0 (pid X) not ready within 1s; rolling back');
ok($c->wait_log(qr/^clusterd: rolled back to generation 1$/m),
    'never: log: rolled back to generation 1');
ok(wait_for(sub { !alive($bad // 0) }, 5), 'never: the new worker is gone');
ok(!(grep { !alive($_) } @old), 'never: every old worker still runs');
is_deeply([sort { $a <=> $b } live_workers($c->pid, 'hello')], \@old,
    'never: the old workers are the only ones');
serve_all($port, \@old, 'never');
status_ok($ctl, 'never', \@old);
wait_load($load, 20);
my $r = stop_load($load);
is($r->{failed}, 0, "never: no failed request out of $r->{ok}")
    or diag(join("\n", @{ $r->{errors} }));
kill TERM => $c->pid;
is(wait_exit($c), 0, 'never: exit 0');

# --- generation 2 crashes at once in slot 1: slot 0 had moved, it goes back ---
($c, $port, $ctl, $conf, @old) = pool('crash', FAIL => 'crash', FAIL_SLOT => 1);
my $by = slots(@old);
$load = start_load($port);
ok(wait_load($load, 20), 'crash: the load runs');
my $mark = length(log_text($c));
($code, $out, $err) = clusterctl($ctl, 'restart');
is($code, 1, 'crash: clusterctl restart exits 1');
like($out . $err,
    qr/rolling restart to generation 2 failed: worker 1 \(pid \d+\) exited with status 1 before it was ready; rolled back/,
    'crash: clusterctl names worker 1: exited with status 1 before it was ready')
    or diag($out, $err);
my $log = substr(log_text($c), $mark);
my ($moved) = $log =~ /^clusterd: worker 0 \(pid (\d+)\) started(?: \(generation 2\))?$/m;
ok($moved, "crash: slot 0 moved to generation 2 first (pid ${\ ($moved // '?')})");
like($log, qr/^clusterd: rolling restart to generation 2 failed: worker 1 \(pid \d+\) exited with status 1 before it was ready; rolling back$/m,
    'crash: log: ... failed: worker 1 (pid X) exited with status 1 before it was ready; rolling back');
ok($c->wait_log(qr/^clusterd: rolled back to generation 1$/m),
    'crash: log: rolled back to generation 1');
my @now;
ok(wait_for(sub {
	my $g = worker_gens($c->pid, 'hello');
	@now = sort { $a <=> $b } keys %$g;
	@now == 3 && !(grep { $_->[1] != 1 } values %$g) && !alive($moved // 0);
    }, 5, 'slot 0 to be rolled back'),
    'crash: three workers of generation 1 again, the moved one gone');
my $now = slots(@now);
is($now->{1}, $by->{1}, 'crash: slot 1 keeps its old worker');
is($now->{2}, $by->{2}, 'crash: slot 2 keeps its old worker');
ok($now->{0} && $now->{0} != ($moved // 0), 'crash: slot 0 runs the old program again');
serve_all($port, \@now, 'crash');
status_ok($ctl, 'crash', \@now);
wait_load($load, 20);
$r = stop_load($load);
is($r->{failed}, 0, "crash: no failed request out of $r->{ok}")
    or diag(join("\n", @{ $r->{errors} }));

# --- a broken deploy by reload: [env] HELLO_FAIL = 1 for everyone ---
@old = @now;
$mark = length(log_text($c));
write_file($conf, slurp($conf) . "HELLO_FAIL = 1\n");
$load = start_load($port);
ok(wait_load($load, 20), 'reload: the load runs');
($code, $out, $err) = clusterctl($ctl, 'reload');
is($code, 1, 'reload of a crashing program: clusterctl reload exits 1');
like($out . $err,
    qr/failed: worker 0 \(pid \d+\) exited with status 1 before it was ready; rolled back/,
    'reload: clusterctl says worker 0 exited with status 1 before it was ready')
    or diag($out, $err);
$log = substr(log_text($c), $mark);
like($log, qr/^clusterd: reload: program changed; rolling restart$/m,
    'reload: log: reload: program changed; rolling restart');
like($log, qr/^clusterd: rolling restart to generation \d+ failed: worker 0 \(pid \d+\) exited with status 1 before it was ready; rolling back\n(?s:.*)^clusterd: rolled back to generation 1$/m,
    'reload: log: ... failed ...; rolling back, then rolled back to generation 1');
is_deeply([sort { $a <=> $b } live_workers($c->pid, 'hello')], \@old,
    'reload: the old workers are the ones left');
serve_all($port, \@old, 'reload');
wait_load($load, 20);
$r = stop_load($load);
is($r->{failed}, 0, "reload: no failed request out of $r->{ok}")
    or diag(join("\n", @{ $r->{errors} }));
kill TERM => $c->pid;
is(wait_exit($c), 0, 'crash: exit 0');

done_testing();
