# The slot state machine as status --json shows it (slot_state) and as -v
# logs it: replacing (surge) and handover (replace mode) while a rolling
# restart waits on a worker, backoff for a crash-looping slot, and every
# slot ready again afterwards.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;

my $WORKER = "$TOP_SRCDIR/t/bin/slot-worker";

sub pool {
	my ($tag, $n, $prog, $rules, %env) = @_;
	my $dir = "$TMPDIR/$tag";
	mkdir($dir) or die "$dir: $!";
	write_file("$dir/fail", $rules) if defined $rules;
	my $env = join('', map { "$_ = $env{$_}\n" } sort keys %env);
	my $conf = write_file("$dir/clusterd.conf", <<"END");
[clusterd]
workers = $n
control = $dir/ctl.sock
[program]
command = $WORKER
ready = notify
ready_timeout = 30s
$prog
[env]
SLOT_DIR = $dir
$env
END
	my $c = start_clusterd(args => ['-v', '-c', $conf, '-l', 'none']);
	return ($c, "$dir/ctl.sock", $dir);
}

sub slot_states {
	my ($st, $id) = @_;
	return join(',', map { "$_->{state}/$_->{slot_state}" }
	    grep { $_->{id} == $id } @{ ($st // {})->{workers} // [] });
}

# Wait until slot $id's rows read $want ("ready/replacing,starting/replacing").
sub wait_slot {
	my ($ctl, $id, $want, $tag) = @_;
	my $got = '';
	my $ok = wait_for(sub { $got = slot_states(ctl_status($ctl), $id); $got eq $want },
	    timeout(5), "slot $id: $want");
	is($got, $want, "$tag: slot $id: $want");
	return $ok;
}

for my $mode (qw(surge replace)) {
	# The new generation waits for a gate before it is ready; in replace
	# mode slot 0's old worker also waits for a file before it exits.
	my ($c, $ctl, $dir) = pool($mode, 2, "restart_mode = $mode", "gate * new\n",
	    TERM_DELAY => "0=$TMPDIR/$mode/old-may-go");
	ok(wait_settled($ctl, 2, 1), "$mode: 2 of 2 ready");
	is(slot_states(ctl_status($ctl), 0), 'ready/ready', "$mode: slot 0 ready/ready");
	my $req = ctl_send($ctl, "restart\n");
	if ($mode eq 'surge') {
		wait_slot($ctl, 0, 'ready/replacing,starting/replacing', $mode);
	} else {
		wait_slot($ctl, 0, 'stopping/handover', $mode);
		write_file("$dir/old-may-go", '');
		wait_slot($ctl, 0, 'starting/replacing', $mode);
	}
	write_file("$dir/old-may-go", '') if $mode eq 'surge';
	write_file("$dir/gate", '');
	my ($code, $msg) = ctl_answer($req);
	is($code, 0, "$mode: restart: code 0");
	like($msg // '', qr/^rolling restart to generation 2 done$/, "$mode: restart done");
	ok(wait_settled($ctl, 2, 2), "$mode: 2 of 2 ready, generation 2");
	my $st = ctl_status($ctl);
	is(join(' ', map { $_->{slot_state} } @{ $st->{workers} }), 'ready ready',
	    "$mode: every slot_state ready");
	ok($c->log_matches(qr/^clusterd: worker 0: (ready -> (replacing|handover))$/m),
	    "$mode: -v: the transition out of ready is logged");
	ok($c->log_matches(qr/^clusterd: worker 0: replacing -> ready$/m),
	    "$mode: -v: replacing -> ready is logged");
	kill TERM => $c->pid;
	is(wait_exit($c), 0, "$mode: exit 0");
}

# A slot whose worker crashes at once: backoff, no pid, and its slot_state.
my ($c, $ctl, $dir) = pool('backoff', 2, "backoff_initial = 30s", "crash 1 *\n");
my $row;
ok(wait_for(sub {
	($row) = grep { $_->{id} == 1 && $_->{state} eq 'backoff' }
	    @{ (ctl_status($ctl) // {})->{workers} // [] };
	$row }, timeout(5), 'slot 1 in backoff'), 'backoff: slot 1 shows state backoff');
is($row->{slot_state}, 'backoff', 'backoff: its slot_state is backoff');
ok(!defined $row->{pid}, 'backoff: no pid');
ok($c->log_matches(qr/^clusterd: worker 1: starting -> backoff$/m),
    'backoff: -v: starting -> backoff is logged');
is(slot_states(ctl_status($ctl), 0), 'ready/ready', 'backoff: slot 0 is ready/ready');
ok(!$c->log_matches(qr/internal error/), 'no internal error logged');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'backoff: exit 0');

# A rolling restart passes a slot in backoff (it has no worker to
# replace): the slot's next start, when its delay is over, runs the new
# generation, and that start still comes.
# (The delay is long enough for the restart to end before it is over on a
# loaded machine: a start of the new generation that crashed while the
# restart runs would fail it, rightly.)
($c, $ctl, $dir) = pool('backoff-restart', 2, "backoff_initial = 3s\nbackoff_max = 3s",
    "crash 1 *\n");
ok(wait_for(sub {
	grep { $_->{id} == 1 && $_->{state} eq 'backoff' }
	    @{ (ctl_status($ctl) // {})->{workers} // [] } }, timeout(5), 'slot 1 in backoff'),
    'backoff-restart: slot 1 is in backoff');
my ($code, $out, $err) = clusterctl($ctl, 'restart');
is($code, 0, 'backoff-restart: the restart is done') or diag($out, $err);
unlink("$dir/fail");
ok(wait_settled($ctl, 2, 2, 10), 'backoff-restart: slot 1 starts again, on generation 2: 2 of 2 ready');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'backoff-restart: exit 0');
done_testing();
