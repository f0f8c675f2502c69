# Reload (SIGHUP, `clusterctl reload`) applies the difference only: an [env]
# change is a rolling restart (no failed request under load), a worker
# count change scales, a bad file changes nothing and is reported with
# FILE:LINE, a new socket reaches the new workers as fd 4, nothing changed
# is "no changes"; the command line still wins over the file.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;

my $port = free_port();
my $ctl = "$TMPDIR/ctl.sock";
my $admin = "$TMPDIR/admin.sock";
my $conf = "$TMPDIR/web.conf";

sub config {
	my (%o) = @_;
	my $s = "[clusterd]\nworkers = " . ($o{workers} // 3) . "\n"
	    . "control = $ctl\n" . ($o{clusterd} // '')
	    . "[socket:http]\nlisten = 127.0.0.1:$port\n"
	    . ($o{admin} ? "[socket:admin]\nlisten = unix:$admin\n" : '')
	    . "[program]\ncommand = $HELLO\n"
	    . "[env]\nGREETING = " . ($o{greeting} // 'one') . "\n";
	write_file($conf, $s);
}

# The workers (hello) and their environments.
sub workers { my $g = worker_gens($_[0], 'hello'); [sort { $a <=> $b } keys %$g] }
sub by_slot { my %s = map { (proc_env($_)->{CLUSTERD_WORKER_ID} => $_) } @_; \%s }

config();
my $c = start_clusterd(args => ['-c', $conf]);
my @old = wait_generation($c->pid, 3, 1, 5, 'hello');
is(scalar(@old), 3, 'three workers of generation 1');
is(proc_env($old[0] // 0)->{GREETING}, 'one', 'GREETING=one');

# An [env] change, SIGHUP, under load.
sub env_reload {
	my ($how, $gen, $greeting) = @_;
	my @before = @{ workers($c->pid) };
	config(greeting => $greeting);
	my $load = start_load($port);
	ok(wait_load($load, 20), "$how: the load runs");
	my $mark = length(log_text($c));
	if ($how eq 'SIGHUP') {
		kill HUP => $c->pid;
		ok($c->wait_log(qr/^clusterd: rolling restart to generation $gen done$/m, 15),
		    "$how: log: rolling restart to generation $gen done");
	} else {
		my ($code, $out, $err) = clusterctl($ctl, 'reload');
		is($code, 0, "$how: exit 0") or diag($out, $err);
		like($out . $err, qr/rolling restart to generation $gen done/,
		    "$how: says rolling restart to generation $gen done");
	}
	like(substr(log_text($c), $mark),
	    qr/^clusterd: reload: program changed; rolling restart$/m,
	    "$how: log: reload: program changed; rolling restart");
	my @new = wait_generation($c->pid, 3, $gen, 5, 'hello');
	is(scalar(@new), 3, "$how: three workers of generation $gen");
	is_deeply([map { proc_env($_)->{GREETING} } @new],
	    [($greeting) x 3], "$how: every one has GREETING=$greeting");
	is_deeply([sort keys %{ by_slot(@new) }], [0, 1, 2], "$how: slots 0-2");
	ok(wait_for(sub { !grep { alive($_) } @before }, 5),
	    "$how: the old workers are gone");
	wait_load($load, 20);
	my $r = stop_load($load);
	is($r->{failed}, 0, "$how: no failed request out of $r->{ok}")
	    or diag(join("\n", @{ $r->{errors} }));
	cmp_ok($r->{gens}{$gen} // 0, '>', 0, "$how: the new generation answered");
	return @new;
}
env_reload('SIGHUP', 2, 'two');
my @w = env_reload('clusterctl reload', 3, 'three');

# Nothing changed.
my ($code, $out, $err) = clusterctl($ctl, 'reload');
is($code, 0, 'no changes: exit 0');
like($out . $err, qr/reloaded: no changes/, 'no changes: reloaded: no changes');
ok($c->log_matches(qr/^clusterd: reload: no changes$/m), 'log: reload: no changes');
kill HUP => $c->pid;
ok(wait_for(sub { (() = log_text($c) =~ /^clusterd: reload: no changes$/mg) == 2 },
    5, 'a second "no changes"'), 'SIGHUP, no changes: log: reload: no changes');
is_deeply(workers($c->pid), \@w, 'no changes: the same workers');

# The worker count: 3 -> 5 -> 2, no restart.
config(greeting => 'three', workers => 5);
($code, $out, $err) = clusterctl($ctl, 'reload');
is($code, 0, 'workers 3 -> 5: exit 0') or diag($out, $err);
like($out . $err, qr/reloaded: workers 3 -> 5/, 'says reloaded: workers 3 -> 5');
ok($c->log_matches(qr/^clusterd: reload: workers 3 -> 5$/m), 'log: reload: workers 3 -> 5');
my @five = wait_generation($c->pid, 5, 3, 5, 'hello');
is(scalar(@five), 5, 'five workers, still of generation 3');
ok(!(grep { !alive($_) } @w), 'the three old workers still run');
is_deeply([sort keys %{ by_slot(@five) }], [0 .. 4], 'slots 0-4');

my $slots = by_slot(@five);
my $load = start_load($port);
ok(wait_load($load, 20), 'the load runs');
config(greeting => 'three', workers => 2);
($code, $out, $err) = clusterctl($ctl, 'reload');
is($code, 0, 'workers 5 -> 2: exit 0') or diag($out, $err);
like($out . $err, qr/reloaded: workers 5 -> 2/, 'says reloaded: workers 5 -> 2');
my @two;
ok(wait_for(sub { @two = @{ workers($c->pid) }; @two == 2 }, 5),
    'two workers left');
is_deeply([sort { $a <=> $b } @two], [sort { $a <=> $b } @$slots{0, 1}],
    'slots 0 and 1 keep their workers');
wait_load($load, 20);
my $r = stop_load($load);
is($r->{failed}, 0, "scale down by reload: no failed request out of $r->{ok}")
    or diag(join("\n", @{ $r->{errors} }));

# A runtime scale lasts until a reload changes the count.
($code, $out, $err) = clusterctl($ctl, 'scale', 3);
is($code, 0, 'scale 3: exit 0') or diag($out, $err);
ok(wait_for(sub { @{ workers($c->pid) } == 3 }, 5), 'three workers');
($code, $out, $err) = clusterctl($ctl, 'reload');
like($out . $err, qr/reloaded: no changes/, 'reload after scale 3: no changes');
ok(wait_for(sub { @{ workers($c->pid) } == 3 }, 1) && @{ workers($c->pid) } == 3,
    'still three workers');
($code, $out, $err) = clusterctl($ctl, 'scale', 2);
ok(wait_for(sub { @{ workers($c->pid) } == 2 }, 5), 'scale 2: two workers');

# A broken file: nothing changes; FILE:LINE for each error.
@w = @{ workers($c->pid) };
my $good = slurp($conf);
(my $bad = $good) =~ s/^(workers = \d+\n)/$1worker = 3\nstop_timeout = 10x\n/m;
write_file($conf, $bad);
my @lines = split(/\n/, $bad);
my ($l1) = grep { $lines[$_ - 1] eq 'worker = 3' } 1 .. @lines;
my $l2 = $l1 + 1;
($code, $out, $err) = clusterctl($ctl, 'reload');
is($code, 1, 'bad file: clusterctl reload exits 1');
like($out . $err, qr/\Q$conf\E:$l1: unknown key "worker"/,
    "bad file: says $conf:$l1: unknown key \"worker\"") or diag($out, $err);
like($out . $err, qr/\Q$conf\E:$l2: bad duration "10x"/,
    "bad file: and $conf:$l2: bad duration \"10x\"");
ok($c->log_matches(qr/^clusterd: reload refused: \Q$conf\E:$l1: unknown key "worker" in \[clusterd\] \(did you mean "workers"\?\)$/m),
    'log: reload refused: FILE:LINE: unknown key "worker" in [clusterd] (did you mean "workers"?)');
ok($c->log_matches(qr/^clusterd: reload refused: \Q$conf\E:$l2: bad duration "10x" for stop_timeout\b.*$/m),
    'log: reload refused: FILE:LINE: bad duration "10x" for stop_timeout');
kill HUP => $c->pid;
ok(wait_for(sub { (() = log_text($c) =~ /reload refused: \Q$conf\E:$l1:/g) == 2 }, 5,
    'the second refusal'), 'SIGHUP with the bad file: refused too');
is_deeply(workers($c->pid), \@w, 'bad file: the same workers');
ok(!(grep { !alive($_) } @w), 'bad file: all still alive');
like(http_get('127.0.0.1', $port) // '', qr/^hello world/, 'bad file: still serving');
ok(alive($c->pid), 'bad file: clusterd runs');

# Back to the good file: the running config was kept, so no changes.
write_file($conf, $good);
($code, $out, $err) = clusterctl($ctl, 'reload');
is($code, 0, 'good file again: exit 0') or diag($out, $err);
like($out . $err, qr/reloaded: no changes/, 'good file again: no changes');

# A new socket: the new workers get it as fd 4.
config(greeting => 'three', workers => 2, admin => 1);
my $gen = ctl_status($ctl)->{generation} // 3;
($code, $out, $err) = clusterctl($ctl, 'reload');
is($code, 0, 'new socket: exit 0') or diag($out, $err);
$gen++;
like($out . $err, qr/rolling restart to generation $gen done/,
    "new socket: rolling restart to generation $gen done");
ok($c->log_matches(qr/^clusterd: listening on unix:\Q$admin\E \(admin\)$/m),
    'log: listening on unix:... (admin)');
@w = wait_generation($c->pid, 2, $gen, 5, 'hello');
is(scalar(@w), 2, "two workers of generation $gen");
for my $pid (@w) {
	my $env = proc_env($pid);
	is($env->{LISTEN_FDS}, 2, "$pid: LISTEN_FDS=2");
	is($env->{LISTEN_FDNAMES}, 'http:admin', "$pid: LISTEN_FDNAMES=http:admin");
	my ($ino) = (proc_fds($pid)->{4} // '') =~ /^socket:\[(\d+)\]$/;
	ok($ino && (slurp('/proc/net/unix') // '') =~ /\b$ino \Q$admin\E$/m,
	    "$pid: fd 4 is the socket at $admin");
}
like(http_get_unix($admin) // '', qr/^hello world from worker \d/,
    'the new socket serves');

# The socket removed again: closed once no worker uses it.
config(greeting => 'three', workers => 2);
($code, $out, $err) = clusterctl($ctl, 'reload');
is($code, 0, 'socket removed: exit 0') or diag($out, $err);
$gen++;
@w = wait_generation($c->pid, 2, $gen, 5, 'hello');
is(proc_env($w[0] // 0)->{LISTEN_FDS}, 1, 'socket removed: LISTEN_FDS=1');
ok(wait_for(sub { !defined http_get_unix($admin, '/', 1) }, 5),
    'socket removed: it no longer answers');
ok(!(grep { $_ eq "unix:$admin" || $_ =~ /\Q$admin\E/ } values %{ proc_fds($c->pid) // {} }),
    'socket removed: clusterd has no fd for it');

# A new socket that cannot be bound: the reload is refused, nothing changes.
@w = @{ workers($c->pid) };
my $taken = IO::Socket::IP->new(LocalHost => '127.0.0.1', LocalPort => 0,
    Proto => 'tcp', Listen => 1, ReuseAddr => 0) or die "bind: $!";
my $tport = $taken->sockport;
config(greeting => 'three', workers => 2);
write_file($conf, slurp($conf) =~ s/^\[program\]/[socket:busy]\nlisten = 127.0.0.1:$tport\n[program]/mr);
($code, $out, $err) = clusterctl($ctl, 'reload');
is($code, 1, 'a socket that cannot be bound: clusterctl reload exits 1');
like($out . $err, qr/127\.0\.0\.1:$tport.*Address already in use/,
    'it says 127.0.0.1:PORT: Address already in use') or diag($out, $err);
ok($c->log_matches(qr/^clusterd: reload refused: .*127\.0\.0\.1:$tport.*Address already in use$/m),
    'log: reload refused: ... Address already in use');
is_deeply(workers($c->pid), \@w, 'the same workers');
is(proc_env($w[0] // 0)->{LISTEN_FDS}, 1, 'still one socket');
close($taken);

# Other settings take effect at once, without a restart: stop_timeout.
config(greeting => 'three', workers => 2, clusterd => "stop_timeout = 3s\n");
($code, $out, $err) = clusterctl($ctl, 'reload');
is($code, 0, 'stop_timeout = 3s: exit 0') or diag($out, $err);
is_deeply(workers($c->pid), \@w, 'stop_timeout = 3s: no restart');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');
ok($c->log_matches(qr/^clusterd: stopping 2 workers \(SIGTERM, timeout 3s\)$/m),
    'the new stop_timeout is used: stopping 2 workers (SIGTERM, timeout 3s)');

# The command line wins over the file: -n 2 stays 2.
config(workers => 3);
$c = start_clusterd(args => ['-n', 2, '-c', $conf]);
@w = wait_generation($c->pid, 2, 1, 5, 'hello');
is(scalar(@w), 2, '-n 2 beats workers = 3');
config(workers => 4);
($code, $out, $err) = clusterctl($ctl, 'reload');
is($code, 0, '-n 2, file says 4: exit 0') or diag($out, $err);
like($out . $err, qr/reloaded: no changes/, '-n 2, file says 4: no changes');
is(scalar(@{ workers($c->pid) }), 2, 'still two workers');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');

done_testing();
