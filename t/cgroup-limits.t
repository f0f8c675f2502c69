# Per-worker pids and cpu limits (issue 13): pids_max, cpu_weight and
# cpu_max are written to each worker's own cgroup where cgroup v2 has the
# pids and cpu controllers (the VM of t/cgroup-vm.t), and a worker cannot
# fork past pids_max. Where it has not (this build host: they are bound to
# cgroup v1), clusterd refuses to start with a message that names the
# controller and why, and leaves nothing running. Values that do not read
# are config errors, FILE:LINE: message, on every host.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;

my $WORKER = "$TOP_SRCDIR/t/bin/fork-worker";
my $n = 0;

sub conf {
	my (%o) = @_;
	my $k = ++$n;
	my $t = { port => free_port(), ctl => "$TMPDIR/cgl$k.sock" };
	$t->{conf} = write_file("$TMPDIR/cgl$k.conf", <<"EOF2");
[clusterd]
workers = 1
name = t-cgl-$$-$k
control = $t->{ctl}
cgroups = yes
[socket:http]
listen = 127.0.0.1:$t->{port}
[program]
command = /usr/bin/perl $WORKER
$o{keys}
EOF2
	return $t;
}

# Bad values: refused by the parser, wherever it runs.
for my $case (['memory_max = 12X', qr/:\d+: bad size "12X" for memory_max/],
    ['memory_high = 0', qr/:\d+: bad size "0" for memory_high/],
    ['cpu_max = 50', qr/:\d+: bad value "50" for cpu_max \(a percentage/],
    ['cpu_weight = 0', qr/:\d+: .*cpu_weight/],
    ['pids_max = -1', qr/:\d+: .*pids_max/]) {
	my $t = conf(keys => $case->[0]);
	my ($code, $out, $err) = run_clusterd(args => ['-c', $t->{conf}, '--check']);
	is($code, 2, "'$case->[0]': --check exits 2");
	like($err, $case->[1], "'$case->[0]': FILE:LINE: message") or diag($err);
}
{
	my $t = conf(keys => "memory_max = 1536M\ncpu_max = 150%\npids_max = 64");
	my ($code, $out) = run_clusterd(args => ['-c', $t->{conf}, '--check']);
	is($code, 0, 'good limits: --check exits 0');
	like($out, qr/^memory_max = 1536M$/m, '--check prints memory_max in its largest unit');
	like($out, qr/^cpu_max = 150%$/m, '--check prints cpu_max as a percentage');
}

{
	my $t = conf(keys => "memory_high = 200M\nmemory_max = 100M");
	my $c = start_clusterd(args => ['-c', $t->{conf}]);
	is(wait_exit($c), 2, 'memory_high above memory_max: refused');
	like($c->log_text, qr/^clusterd: (?:memory_high \(200M\) must be below memory_max \(100M\)|memory_max needs .*|cgroups = yes, but .*)$/m,
	    'the message says memory_high must be below memory_max') or diag($c->log_text);
}

# The real thing: start with the limits.
my $t = conf(keys => "pids_max = 16\ncpu_weight = 50\ncpu_max = 50%");
my $c = start_clusterd(args => ['-c', $t->{conf}]);
my ($first) = $c->wait_log(qr/^clusterd: (1 worker ready|(?:pids_max|cpu_weight|cpu_max) needs .*|cgroups = yes, but .*)$/m, 10);
my $refused = defined $first && $first ne '1 worker ready' ? $first : undef;
if (defined $refused) {
	my $code = wait_exit($c);
	is($code, 2, 'no pids/cpu controller in cgroup v2: clusterd exits 2');
	like($refused, qr/^(?:pids_max needs the pids controller in cgroup v2: |cgroups = yes, but )\S/,
	    "the message names the controller and why: $refused");
	ok(!grep({ alive($_) } tagged_pids()), 'nothing is left running');
	for my $key ('cpu_max = 50%', 'cpu_weight = 50') {
		my $t2 = conf(keys => $key);
		my $c2 = start_clusterd(args => ['-c', $t2->{conf}]);
		is(wait_exit($c2), 2, "'$key' alone: refused too");
		like($c2->log_text, qr/^clusterd: cpu_(?:max|weight) needs the cpu controller in cgroup v2: \S|^clusterd: cgroups = yes, but /m,
		    "'$key': the message names the cpu controller");
	}
	done_testing();
	exit 0;
}
ok($c->wait_log(qr/^clusterd: 1 worker ready$/m, 10), 'pids_max, cpu_weight, cpu_max: 1 worker ready')
    or BAIL_OUT('clusterd did not start: ' . $c->log_text);
like($c->log_text, qr/^clusterd: cgroups: workers in \S+, controllers: memory pids cpu$/m,
    'the log names the controllers clusterd gave the workers');
my $st = ctl_status($t->{ctl});
my ($w) = grep { ($_->{state} // '') eq 'ready' } @{ $st->{workers} // [] };
my $base = $st->{cgroups}{path} // '';
my $dir = "$base/" . ($w->{cgroup}{path} // '?');
ok(-d $dir, "the worker's cgroup: $dir");
is((slurp("$dir/pids.max") // '') =~ s/\s+\z//r, '16', 'pids.max = 16');
is((slurp("$dir/cpu.weight") // '') =~ s/\s+\z//r, '50', 'cpu.weight = 50');
is((slurp("$dir/cpu.max") // '') =~ s/\s+\z//r, '50000 100000', 'cpu.max = 50000 100000 (50% of one CPU)');
my $b = http_get('127.0.0.1', $t->{port}, '/fork/40', timeout(20)) // '';
my ($forked) = $b =~ /^forked (\d+)$/m;
ok(defined $forked && $forked >= 1 && $forked < 16,
    "a worker asked to fork 40 children gets fewer than 16 (forked " . ($forked // '?') . ')')
    or diag($b);
$st = ctl_status($t->{ctl});
($w) = grep { ($_->{state} // '') eq 'ready' } @{ $st->{workers} // [] };
is($w->{cgroup}{pids_current}, 1, 'status --json: pids_current 1 once its children are gone');
like(http_get('127.0.0.1', $t->{port}, '/', timeout(5)) // '', qr/^hello world from worker 0/,
    'it still serves');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'SIGTERM: exit 0');
ok(!-d $base, 'the base is removed at exit');
done_testing();
