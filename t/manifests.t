# examples/k8s/clusterd.yaml and examples/nomad/clusterd.nomad.hcl (issue
# 17), offline: every Kubernetes object validates against the schema of
# kubernetes-models (generated from the Kubernetes OpenAPI spec; versions
# pinned in t/node/package-lock.json, installed by the README's test
# command with npm ci), the Nomad job parses as HCL 2 (hcl2-parser), the
# clusterd.conf each one carries is one clusterd --check accepts, and the
# numbers that must agree do: the grace period against stop_timeout, the
# ports against the config, the probes against clusterctl, the metrics
# annotations.  t/probes.t runs the probe commands themselves.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use Clusterd;

my $NODE = '/usr/bin/node';
my $HELPER = "$TOP_SRCDIR/t/node/check-manifests.js";
my $MODULES = $ENV{CLUSTERD_NODE_MODULES} // "$TOP_SRCDIR/t/node/node_modules";
plan(skip_all => "$NODE is needed (Debian package nodejs)") unless -x $NODE;
plan(skip_all => "no validator in $MODULES: run npm ci --prefix t/node (the README's test command does)")
    unless -d "$MODULES/kubernetes-models" && -d "$MODULES/hcl2-parser" && -d "$MODULES/js-yaml";
$ENV{NODE_PATH} = $MODULES;

# node HELPER MODE FILE: one JSON object per line.
sub helper {
	my ($mode, $file) = @_;
	my $pid = open(my $fh, '-|') // die "fork: $!";
	if ($pid == 0) {
		open(STDERR, '>&', \*STDOUT);
		exec($NODE, $HELPER, $mode, $file) or POSIX::_exit(127);
	}
	my @out = <$fh>;
	close($fh);
	my @objs = map { eval { decode_json($_) } // { error => "not JSON: $_" } } @out;
	return ($? >> 8, @objs);
}

# clusterd --check on TEXT: (exit code, settings as KEY => VALUE by section).
sub check_conf {
	my ($text) = @_;
	my $f = "$TMPDIR/check.conf";
	write_file($f, $text);
	my ($code, $out, $err) = run_clusterd(args => ['-c', $f, '--check']);
	my (%set, $sec);
	for (split /\n/, $out // '') {
		$sec = $1, next if /^\[(.*)\]$/;
		$set{$sec // ''}{$1} = $2 if /^(\w+) = (.*)$/;
	}
	return ($code, \%set, $err);
}
sub secs {
	my ($d) = @_;
	return undef unless defined $d && $d =~ /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/;
	return $1 * { ms => 0.001, s => 1, m => 60, h => 3600 }->{$2 // 's'};
}

# --- Kubernetes
my $yaml = "$TOP_SRCDIR/examples/k8s/clusterd.yaml";
my ($rc, @objs) = helper('k8s', $yaml);
is($rc, 0, 'the YAML parses') or diag(explain(\@objs));
my %obj;
for my $o (@objs) {
	is($o->{errors}, undef, "$o->{kind} validates against the Kubernetes schema");
	$obj{$o->{kind}} = $o->{object};
}
ok($obj{$_}, "a $_") for qw(ConfigMap Deployment Service);
my $cm = $obj{ConfigMap} // {};
my $dep = $obj{Deployment} // {};
my $svc = $obj{Service} // {};

# The validator is live: the same file with a wrong type fails.
(my $bad = slurp($yaml)) =~ s/terminationGracePeriodSeconds: \d+/terminationGracePeriodSeconds: forty/;
write_file("$TMPDIR/bad.yaml", $bad);
my (undef, @badobjs) = helper('k8s', "$TMPDIR/bad.yaml");
like(join(' ', map { $_->{errors} // '' } @badobjs), qr/terminationGracePeriodSeconds must be integer/,
    'a wrong type is caught by the validator');

my $pod = $dep->{spec}{template}{spec} // {};
my ($ctr) = @{ $pod->{containers} // [] };
$ctr //= {};
my ($code, $set, $err) = check_conf($cm->{data}{'clusterd.conf'} // '');
is($code, 0, "the ConfigMap's clusterd.conf passes clusterd --check") or diag($err);
my $stop = secs($set->{clusterd}{stop_timeout});
ok($stop, "stop_timeout is $stop s");
unlike($cm->{data}{'clusterd.conf'} // '', qr/^workers\s*=/m,
    'no workers key: the count follows the cpu limit (cgroup cpu.max)');
is($set->{clusterd}{metrics}, '0.0.0.0:9101', 'the config serves metrics on port 9101');

# The container runs clusterd on the mounted file.
my @cmd = @{ $ctr->{command} // [] };
is($cmd[0], '/usr/local/bin/clusterd', 'the container runs clusterd as PID 1 (where examples/Dockerfile puts it)');
my ($cfile) = map { $cmd[$_ + 1] } grep { $cmd[$_] eq '-c' } 0 .. $#cmd;
my ($mount) = grep { ($cfile // '') eq "$_->{mountPath}/clusterd.conf" } @{ $ctr->{volumeMounts} // [] };
ok($mount, "-c $cfile is the mounted ConfigMap");
my ($vol) = grep { $_->{name} eq ($mount->{name} // '') } @{ $pod->{volumes} // [] };
is($vol->{configMap}{name}, $cm->{metadata}{name}, 'the volume is the ConfigMap');

# Grace: the preStop sleep plus stop_timeout fit in the grace period.
my $pre = $ctr->{lifecycle}{preStop}{exec}{command} // [];
my ($sleep) = ("@$pre" =~ m{^/bin/sleep (\d+)$});
ok($sleep, "preStop sleeps ($sleep s) for the endpoints to catch up");
my $grace = $pod->{terminationGracePeriodSeconds} // 0;
cmp_ok($grace, '>', ($sleep // 0) + ($stop // 1e9),
    "terminationGracePeriodSeconds ($grace) > preStop sleep + stop_timeout");

# Probes: readiness is clusterctl status itself (0 ready, 3 not), liveness
# fails only when clusterd does not answer (4).
my $ready = $ctr->{readinessProbe}{exec}{command} // [];
is_deeply([grep { !/^-t|^\d+m?s$/ } @$ready], ['/usr/local/bin/clusterctl', 'status'],
    'readiness: clusterctl status');
my $live = $ctr->{livenessProbe}{exec}{command} // [];
like("@$live", qr{clusterctl .*status.*test \$\? -ne 4}, 'liveness: clusterd answers, whatever the workers');
for my $p (qw(readinessProbe livenessProbe)) {
	my ($t) = join(' ', @{ $ctr->{$p}{exec}{command} // [] }) =~ /-t (\d+)s/;
	cmp_ok($ctr->{$p}{timeoutSeconds} // 1, '>', $t // 1e9, "$p: timeoutSeconds > clusterctl -t");
}

# Ports: the container port named http is the config's listen port; the
# Service targets it.
my %ports = map { $_->{name} => $_->{containerPort} } @{ $ctr->{ports} // [] };
my ($listen) = ($set->{'socket:http'}{listen} // '') =~ /(\d+)$/;
is($ports{http}, $listen, "containerPort http is the config's listen port ($listen)");
is($svc->{spec}{ports}[0]{targetPort}, 'http', 'the Service targets the http port');
is_deeply($svc->{spec}{selector}, $dep->{spec}{template}{metadata}{labels}, 'the Service selects the pods');
is_deeply($dep->{spec}{selector}{matchLabels}, $dep->{spec}{template}{metadata}{labels}, 'the Deployment selects its pods');

# Metrics scraped from the metrics port.
my $ann = $dep->{spec}{template}{metadata}{annotations} // {};
is($ann->{'prometheus.io/scrape'}, 'true', 'prometheus.io/scrape');
is($ann->{'prometheus.io/port'}, '9101', 'prometheus.io/port 9101');
is($ann->{'prometheus.io/path'}, '/metrics', 'prometheus.io/path /metrics');
is($ports{metrics}, 9101, 'containerPort metrics 9101');

# Resources: Guaranteed (requests = limits), a whole number of CPUs, which
# is the worker count clusterd picks from cpu.max.
my $res = $ctr->{resources} // {};
is_deeply($res->{requests}, $res->{limits}, 'requests = limits');
like($res->{limits}{cpu} // '', qr/^[1-9]\d*$/, 'the cpu limit is whole CPUs: that many workers');
ok($res->{limits}{memory}, 'a memory limit');

# --- Nomad
my $hcl = "$TOP_SRCDIR/examples/nomad/clusterd.nomad.hcl";
($rc, my ($n)) = helper('hcl', $hcl);
ok($n && $n->{hcl}, 'the Nomad job parses as HCL 2') or diag(explain($n));
my $job = (values %{ $n->{hcl}{job} // {} })[0][0] // {};
my $group = (values %{ $job->{group} // {} })[0][0] // {};
my $task = (values %{ $group->{task} // {} })[0][0] // {};
is($job->{type}, 'service', 'a service job');
my $tmpl = $task->{template}[0] // {};
my $nconf = $tmpl->{data} // '';
($code, my $nset, $err) = check_conf($nconf);
is($code, 0, "the job's clusterd.conf passes clusterd --check") or diag($err);
my $nstop = secs($nset->{clusterd}{stop_timeout});
is($tmpl->{change_signal}, 'SIGHUP', 'a changed file is reloaded (SIGHUP), not a restart');
like($task->{config}[0]{args}[1] // '', qr{^/?local/clusterd.conf$}, 'clusterd reads the template');
is($task->{kill_signal}, 'SIGTERM', 'kill_signal SIGTERM');
cmp_ok(secs($task->{kill_timeout}) // 0, '>', $nstop // 1e9, 'kill_timeout > stop_timeout');
ok(secs($task->{shutdown_delay}), 'shutdown_delay: deregistered before the kill signal');
like($task->{resources}[0]{cores} // '', qr/^[1-9]\d*$/, 'resources: whole cores');
my ($nlisten) = ($nset->{'socket:http'}{listen} // '') =~ /(\d+)$/;
my $net = $group->{network}[0]{port} // {};
is($net->{http}[0]{to}, $nlisten, "port http maps to the config's listen port");
is($net->{metrics}[0]{to}, 9101, 'port metrics maps to 9101');
is($nset->{clusterd}{metrics}, '0.0.0.0:9101', "the job's config serves metrics on port 9101");
my %checks = map { $_->{name} => $_ } map { @{ $_->{check} // [] } } @{ $group->{service} // [] };
is_deeply([$checks{ready}{command}, grep { !/^-t|^\d+m?s$/ } @{ $checks{ready}{args} // [] }],
    ['/usr/local/bin/clusterctl', 'status'], 'ready check: clusterctl status');
like("@{ $checks{alive}{args} // [] }", qr{clusterctl .*status.*test \$\? -ne 4}, 'alive check: clusterd answers');
ok($checks{alive}{check_restart}, 'only the alive check restarts the task');
ok(!$checks{ready}{check_restart}, 'the ready check restarts nothing');

# The HCL parser is live: a broken copy fails.
(my $badhcl = slurp($hcl)) =~ s/kill_timeout = "30s"/kill_timeout = /;
write_file("$TMPDIR/bad.hcl", $badhcl);
my (undef, $bn) = helper('hcl', "$TMPDIR/bad.hcl");
ok(!$bn->{hcl}, 'a broken job is caught by the parser');

done_testing();
