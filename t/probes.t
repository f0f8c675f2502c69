# The probe and check commands that examples/k8s/clusterd.yaml and
# examples/nomad/clusterd.nomad.hcl ship, run for real against a clusterd
# started with the ConfigMap's own clusterd.conf (issue 17): readiness is
# 0 when every worker is ready and 3 (not ready) while a worker
# crash-loops; liveness is 0 in both cases and during a rolling restart in
# progress, and fails only when clusterd does not answer.  The commands
# are read from the files (their exec arrays are JSON), with the image's
# /usr/local/bin/clusterctl replaced by this build's, and the control
# socket given by CLUSTERD_CONTROL (the pod's default path is /run/clusterd).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use Clusterd;

my $K8S = slurp("$TOP_SRCDIR/examples/k8s/clusterd.yaml") // BAIL_OUT('no examples/k8s/clusterd.yaml');
my $NOMAD = slurp("$TOP_SRCDIR/examples/nomad/clusterd.nomad.hcl") // BAIL_OUT('no nomad job');
my $IMAGE_CTL = '/usr/local/bin/clusterctl';

# "readinessProbe:" ... the next "command: [...]" line.
sub k8s_probe {
	my ($probe) = @_;
	my ($json) = $K8S =~ /^\s*\Q$probe\E:\n(?:\s+.*\n)*?\s+command: (\[.*\])\s*$/m
	    or return undef;
	return decode_json($json);
}
# The check block named NAME: command = "..." and args = [...].
sub nomad_check {
	my ($name) = @_;
	my ($block) = $NOMAD =~ /check \{\n\s*name\s*=\s*"\Q$name\E"\n(.*?)\n\s*\}/s
	    or return undef;
	my ($cmd) = $block =~ /^\s*command\s*=\s*("[^"\n]*")/m;
	my ($args) = $block =~ /^\s*args\s*=\s*(\[.*\])\s*$/m;
	return undef unless $cmd && $args;
	return [decode_json("[$cmd]")->[0], @{ decode_json($args) }];
}
my %probe = (
	'k8s readiness' => k8s_probe('readinessProbe'),
	'k8s liveness' => k8s_probe('livenessProbe'),
	'nomad ready' => nomad_check('ready'),
	'nomad alive' => nomad_check('alive'),
);
for my $p (sort keys %probe) {
	ok($probe{$p}, "$p: command found");
	$probe{$p} //= ['false'];
	ok(grep({ /\Q$IMAGE_CTL\E.*status|^\Q$IMAGE_CTL\E$/ } @{ $probe{$p} }),
	    "$p runs $IMAGE_CTL status");
	s/\Q$IMAGE_CTL\E/$CLUSTERCTL/g for @{ $probe{$p} };
}
my @ready = grep { /readiness|ready$/ } sort keys %probe;
my @alive = grep { /liveness|alive$/ } sort keys %probe;

# The ConfigMap's clusterd.conf (a block scalar indented 4), with the port,
# the program and the control socket of this test.
my ($conf) = $K8S =~ /^  clusterd\.conf: \|\n((?:    .*\n|\s*\n)+)/m
    or BAIL_OUT('no clusterd.conf in the ConfigMap');
$conf =~ s/^    //mg;
my $port = free_port();
my $flag = "$TMPDIR/crash";
ok($conf =~ s/^listen = \d+$/listen = 127.0.0.1:$port/m, 'the config has a listen line');
# The annotated port and path, on a free loopback port here.
my $mport = free_port();
ok($conf =~ s/^metrics = 0\.0\.0\.0:9101$/metrics = 127.0.0.1:$mport/m, 'the config has the metrics line');
my ($mpath) = $K8S =~ m{prometheus\.io/path: (\S+)};
ok($conf =~ s{^command = /usr/local/bin/hello$}
    {command = /bin/sh -c "test -e $flag && exit 1; exec $HELLO"}m,
    'the config runs /usr/local/bin/hello');
# Replace mode with a readiness delay: during the rolling restart below a
# slot has no ready worker for a while, so status is degraded (3) there.
$conf =~ s/^\[program\]$/[program]\nready = 1s\nrestart_mode = replace/m;
my $file = "$TMPDIR/clusterd.conf";
write_file($file, $conf);
my $sock = "$TMPDIR/ctl.sock";
my $c = start_clusterd(args => ['-c', $file, '-n', 2, '-s', $sock]);

# run(argv): the exit code, killed after 15 s (timeout 5 s in the pod).
sub run {
	my ($argv) = @_;
	my $pid = fork() // die "fork: $!";
	if ($pid == 0) {
		$ENV{CLUSTERD_CONTROL} = $sock;
		open(STDIN, '<', '/dev/null');
		open(STDOUT, '>', '/dev/null');
		open(STDERR, '>', '/dev/null');
		{ exec { $argv->[0] } @$argv; }
		POSIX::_exit(127);
	}
	my $st;
	my $done = wait_for(sub { waitpid($pid, POSIX::WNOHANG()) == $pid and $st = $?, 1 },
	    15, "@$argv");
	unless ($done) { kill(KILL => $pid); waitpid($pid, 0); return undef }
	return $st >> 8;
}
sub codes { my @l = @_; return join(' ', map { "$_=" . (run($probe{$_}) // 'timeout') } @l) }

ok(wait_for(sub { (run($probe{'k8s readiness'}) // -1) == 0 }, timeout(10),
    'readiness to pass'), 'readiness passes once both workers are ready');
is(codes(@ready), join(' ', map { "$_=0" } @ready), 'ready: every readiness check exits 0');
is(codes(@alive), join(' ', map { "$_=0" } @alive), 'ready: every liveness check exits 0');
like(http_get('127.0.0.1', $port, '/') // '', qr/\S/, 'the workers serve');
like(http_get('127.0.0.1', $mport, $mpath // '/none') // '', qr/^clusterd_workers\{state="ready"\} 2$/m,
    "the annotated path ($mpath) on the metrics port serves the metrics: 2 ready");

# Degraded: worker 1 killed, its replacements exit 1 at once (crash loop,
# backoff): readiness 3, liveness still 0.
write_file($flag, '');
my @w = live_workers($c->pid);
kill(KILL => $w[-1]) if @w;
ok(wait_for(sub { (run($probe{'k8s readiness'}) // -1) == 3 }, timeout(10),
    'readiness to say degraded'), 'a crash-looping worker: readiness exits 3');
is(codes(@ready), join(' ', map { "$_=3" } @ready), 'degraded: every readiness check exits 3 (not ready)');
is(codes(@alive), join(' ', map { "$_=0" } @alive), 'degraded: every liveness check exits 0 (not restarted)');
unlink($flag);
ok(wait_for(sub { (run($probe{'k8s readiness'}) // -1) == 0 }, timeout(40),
    'the crash-looping slot to recover'), 'recovered: readiness exits 0 again');

# A rolling restart in progress (replace mode: a slot without a ready
# worker while its new one gets ready): liveness stays 0 throughout.
my $restart = spawn_clusterctl(args => ['-s', $sock, 'restart']);
my (%seen, @live_codes);
wait_for(sub {
	my $st = ctl_status($sock) or return 0;
	my $rolling = grep { ($_->{slot_state} // '') =~ /replacing|handover|starting/ }
	    @{ $st->{workers} // [] };
	return 0 unless $rolling;
	$seen{rolling}++;
	$seen{readiness} .= (run($probe{'k8s readiness'}) // 'timeout') . ' ';
	push(@live_codes, run($probe{$_}) // 'timeout') for @alive;
	return $seen{rolling} >= 3;
}, timeout(15), 'the rolling restart to be seen in progress');
ok($seen{rolling}, 'the rolling restart was seen in progress')
    or diag(log_text($c));
ok(@live_codes && !grep({ $_ ne '0' } @live_codes),
    "liveness during the rolling restart: @live_codes");
note("readiness during the rolling restart: " . ($seen{readiness} // ''));
my ($rc) = finish_clusterctl($restart, timeout(30));
is($rc, 0, 'the rolling restart finished');
is(codes(@ready), join(' ', map { "$_=0" } @ready), 'after the restart: readiness exits 0');

# No clusterd: liveness fails (exit 4 from clusterctl, 1 from test).
kill(TERM => $c->pid);
is(wait_exit($c, timeout(15)), 0, 'clusterd stopped');
my @dead = map { run($probe{$_}) // 'timeout' } @alive;
ok(@dead && !grep({ $_ eq '0' || $_ eq 'timeout' } @dead), "no clusterd: liveness fails (@dead)");
is(run($probe{'k8s readiness'}), 4, 'no clusterd: readiness exits 4');

done_testing();
