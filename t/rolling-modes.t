# Rolling restart modes: restart_batch = 2 moves two slots at a time;
# surge (the default) starts the new worker beside the old one and stops
# the old one only once the new one is ready; replace stops the old one
# first.  The new generation waits for a gate file before it starts hello
# (ready = notify, HELLO_NOTIFY=1), so the test sees the middle of the
# restart.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;

my $gated = write_file("$TMPDIR/gated.sh", <<"END", 0755);
#!/bin/sh
# generation 1 starts at once; later ones wait for the gate (at most 30s)
n=0
while [ "\$CLUSTERD_GENERATION" != 1 ] && [ ! -e "\$GATE" ] && [ \$n -lt 3000 ]
do
	sleep 0.01
	n=\$((n + 1))
done
exec $HELLO
END

# The workers of clusterd $pid, by pid: [slot, generation] (any command).
sub gens { worker_gens($_[0]) }

# Start a 4-worker pool with the given [clusterd]/[program] extras.
sub pool {
	my ($tag, $extra) = @_;
	my $port = free_port();
	my $ctl = "$TMPDIR/$tag.sock";
	my $conf = write_file("$TMPDIR/$tag.conf", <<"END");
[clusterd]
workers = 4
control = $ctl
$extra->{clusterd}
[socket:http]
listen = 127.0.0.1:$port
[program]
command = $gated
ready = notify
ready_timeout = 20s
$extra->{program}
[env]
HELLO_NOTIFY = 1
GATE = $TMPDIR/$tag.gate
END
	my $c = start_clusterd(args => ['-c', $conf]);
	my @w = wait_generation($c->pid, 4, 1, 5, 'hello');
	is(scalar(@w), 4, "$tag: four workers of generation 1");
	ok($c->wait_log(qr/^clusterd: 4 workers ready$/m),
	    "$tag: log: 4 workers ready");
	return ($c, $port, $ctl, "$TMPDIR/$tag.gate", @w);
}

sub slot_of { proc_env($_[0])->{CLUSTERD_WORKER_ID} }

# --- restart_batch = 2, surge ---
my ($c, $port, $ctl, $gate, @old) = pool('batch',
    { clusterd => 'restart_batch = 2', program => '' });
my %old_slot = map { (slot_of($_) => $_) } @old;
my $load = start_load($port);
ok(wait_load($load, 20), 'batch: the load runs');
kill USR2 => $c->pid;
ok($c->wait_log(qr/^clusterd: rolling restart to generation 2 \(4 workers, 2 at a time\)$/m),
    'batch: log: rolling restart to generation 2 (4 workers, 2 at a time)');
my $g;
ok(wait_for(sub { $g = gens($c->pid); 2 == grep { $_->[1] == 2 } values %$g },
    5, 'two workers of generation 2'), 'batch: two new workers start');
wait_load($load, 20);	# give a wrong third one time to show up
$g = gens($c->pid);
is_deeply([sort map { $_->[0] } grep { $_->[1] == 2 } values %$g], [0, 1],
    'batch: the first batch is slots 0 and 1, and only them');
ok(!(grep { !alive($_) } @old), 'batch (surge): every old worker still runs');
my $st = ctl_status($ctl);
is($st->{state}, 'restarting', 'batch: status state restarting');
is($st->{workers_ready}, 4, 'batch: status: still 4 ready');
my %rows;
push(@{ $rows{$_->{id}} }, "$_->{generation}:$_->{state}")
    for @{ $st->{workers} // [] };
is_deeply([sort @{ $rows{0} // [] }], ['1:ready', '2:starting'],
    'batch: slot 0 shows two rows, old ready, new starting');
is_deeply([map { $rows{$_} } 2, 3], [['1:ready'], ['1:ready']],
    'batch: slots 2 and 3 show their old worker only (clusterd started no third)');
write_file($gate, '');
ok($c->wait_log(qr/^clusterd: rolling restart to generation 2 done$/m, 10),
    'batch: log: rolling restart to generation 2 done');
my @new = wait_generation($c->pid, 4, 2, 5, 'hello');
is(scalar(@new), 4, 'batch: four workers of generation 2');
ok(wait_for(sub { !grep { alive($_) } @old }, 5), 'batch: old workers gone');
wait_load($load, 10);
my $r = stop_load($load);
is($r->{failed}, 0, "batch: no failed request out of $r->{ok}")
    or diag(join("\n", @{ $r->{errors} }));
kill TERM => $c->pid;
is(wait_exit($c), 0, 'batch: exit 0');

# --- restart_mode = replace: the old one stops before the new one runs ---
($c, $port, $ctl, $gate, @old) = pool('replace',
    { clusterd => '', program => 'restart_mode = replace' });
%old_slot = map { (slot_of($_) => $_) } @old;
$load = start_load($port);
ok(wait_load($load, 20), 'replace: the load runs');
kill USR2 => $c->pid;
ok($c->wait_log(qr/^clusterd: rolling restart to generation 2 \(4 workers, 1 at a time(?:, replace)?\)$/m),
    'replace: log: rolling restart to generation 2 (4 workers, 1 at a time)');
ok(wait_for(sub { $g = gens($c->pid); grep { $_->[1] == 2 } values %$g },
    5, 'a worker of generation 2'), 'replace: a new worker starts');
ok(!alive($old_slot{0}), 'replace: the old worker of slot 0 was stopped first');
wait_load($load, 20);
$g = gens($c->pid);
is_deeply([map { $_->[0] } grep { $_->[1] == 2 } values %$g], [0],
    'replace: one new worker, in slot 0');
ok(!(grep { !alive($old_slot{$_}) } 1 .. 3), 'replace: slots 1-3 untouched');
# What clusterd itself says: it started nothing /proc has not shown yet.
$st = ctl_status($ctl) // {};
%rows = ();
push(@{ $rows{$_->{id}} }, "$_->{generation}:$_->{state}") for @{ $st->{workers} // [] };
is_deeply(\%rows, { 0 => ['2:starting'], map { ($_ => ['1:ready']) } 1 .. 3 },
    'replace: status: slot 0 new and starting, slots 1-3 old and ready')
    or diag(explain(\%rows));
write_file($gate, '');
ok($c->wait_log(qr/^clusterd: rolling restart to generation 2 done$/m, 10),
    'replace: log: rolling restart to generation 2 done');
@new = wait_generation($c->pid, 4, 2, 5, 'hello');
is(scalar(@new), 4, 'replace: four workers of generation 2');
my %new_slots = map { (slot_of($_) => 1) } @new;
is_deeply([sort keys %new_slots], [0 .. 3], 'replace: worker ids 0-3 kept');
ok(wait_for(sub { !grep { alive($_) } @old }, 5), 'replace: old workers gone');
wait_load($load, 10);
$r = stop_load($load);
is($r->{failed}, 0, "replace: no failed request out of $r->{ok}")
    or diag(join("\n", @{ $r->{errors} }));
# replace without a gate: a plain restart, under load
$load = start_load($port);
ok(wait_load($load, 20), 'replace: the load runs');
kill USR2 => $c->pid;
ok($c->wait_log(qr/^clusterd: rolling restart to generation 3 done$/m, 10),
    'replace: log: rolling restart to generation 3 done');
wait_generation($c->pid, 4, 3, 5, 'hello');
wait_load($load, 10);
$r = stop_load($load);
is($r->{failed}, 0, "replace, ungated: no failed request out of $r->{ok}")
    or diag(join("\n", @{ $r->{errors} }));
kill TERM => $c->pid;
is(wait_exit($c), 0, 'replace: exit 0');

done_testing();
