# The queries shipped for Grafana (etc/grafana-queries.md and the panels of
# etc/grafana-dashboard.json, issue 16) are PromQL that promtool parses, and
# every metric they name is one clusterd.conf(5) documents, and every
# documented one is one clusterd exports: a renamed metric breaks this
# test, not an operator's dashboard.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;
use JSON::PP ();

my $PROMTOOL = '/usr/bin/promtool';
plan skip_all => "no $PROMTOOL (Debian's prometheus package has it)" unless -x $PROMTOOL;

# The queries of the markdown file: its indented lines, less a trailing
# "# comment".
my @md;
for (split /\n/, slurp("$TOP_SRCDIR/etc/grafana-queries.md")) {
	next unless /^    (\S.*)$/;
	(my $q = $1) =~ s/\s+#.*$//;
	push(@md, $q);
}
cmp_ok(scalar(@md), '>=', 20, scalar(@md) . ' queries in etc/grafana-queries.md');

# The dashboard's: every "expr" of its panels' targets.
my $dash = eval { JSON::PP->new->decode(slurp("$TOP_SRCDIR/etc/grafana-dashboard.json")) };
ok($dash, 'etc/grafana-dashboard.json is JSON') or diag($@);
my @dq;
my $walk;
$walk = sub {
	my ($x) = @_;
	if (ref($x) eq 'HASH') {
		push(@dq, $x->{expr}) if defined $x->{expr} && !ref($x->{expr});
		$walk->($_) for values %$x;
	} elsif (ref($x) eq 'ARRAY') {
		$walk->($_) for @$x;
	}
};
$walk->($dash);
cmp_ok(scalar(@dq), '>=', 8, scalar(@dq) . ' panel queries in the dashboard');
ok(($dash->{panels} && @{ $dash->{panels} }), 'the dashboard has panels');

# Grafana's variables become what it would put there, then promtool parses
# each as a recording rule.
my @all = (@md, @dq);
my $rules = "groups:\n  - name: clusterd\n    rules:\n";
for my $i (0 .. $#all) {
	(my $q = $all[$i]) =~ s/\$__rate_interval/5m/g;
	$q =~ s/\$instance/.*/g;
	$q =~ s/'/''/g;
	$rules .= "      - record: clusterd_query_$i\n        expr: '$q'\n";
}
my $file = write_file("$TMPDIR/queries.yml", $rules);
my ($code, $out) = (undef, '');
{
	open(my $fh, '-|', "$PROMTOOL check rules $file 2>&1") or die "promtool: $!";
	local $/;
	$out = <$fh> // '';
	close($fh);
	$code = $? >> 8;
}
is($code, 0, 'promtool check rules: all ' . scalar(@all) . ' queries parse') or diag($out);

# The metric families a real clusterd exports (clusterctl metrics: every
# family has its TYPE line, samples or not).
my $ctl = "$TMPDIR/ctl.sock";
my $c = start_clusterd(args => ['-n', 1, '-l', '127.0.0.1:' . free_port(), '-s', $ctl,
    '--', $HELLO]);
my $text = '';
ok(wait_for(sub { my ($rc, $o) = clusterctl($ctl, 'metrics'); $text = $o // '';
    $rc == 0 && $text =~ /^clusterd_workers\{state="ready"\} 1$/m }, 10, 'a ready worker'),
    'clusterctl metrics answers');
my %family = map { $_ => 1 } $text =~ /^# TYPE (\S+) /mg;
ok(%family, scalar(keys %family) . ' families exported');
sub exported { my ($m) = @_; (my $f = $m) =~ s/_total$//; return $family{$m} || $family{$f} || $family{"${f}_total"} }

# clusterd.conf(5), METRICS: every metric, documented.
my %documented = map { $_ => 1 } slurp("$TOP_SRCDIR/man/clusterd.conf.5") =~ /^\.It Li ((?:clusterd|process)_[a-z0-9_]+)/mg;
cmp_ok(scalar(keys %documented), '>=', 20, scalar(keys %documented) . ' metrics in clusterd.conf(5)');
# The per-worker cgroup families are there only where clusterd has cgroups.
my ($sc, $sout) = clusterctl($ctl, 'status', '--json');
my $cgmode = ((eval { JSON::PP->new->decode($sout // '') } // {})->{cgroups} // {})->{mode} // 'off';
my %cgroup_only = map { $_ => 1 } qw(clusterd_worker_memory_bytes clusterd_worker_cpu_seconds_total
    clusterd_worker_pids clusterd_worker_oom_kills_total);
for my $m (sort keys %documented) {
	SKIP: {
		skip("$m: clusterd has no per-worker cgroups here", 1) if $cgroup_only{$m} && $cgmode eq 'off';
		ok(exported($m), "documented $m is exported");
	}
}

my %used;
for my $q (@all) {
	$used{$_} = 1 for grep { /^(?:clusterd_|process_)/ } $q =~ /\b([a-z_][a-z0-9_]*)\b(?!\s*\()/g;
}
ok($documented{$_}, "the queries' $_ is documented") for sort keys %used;
kill(TERM => $c->pid);
is(wait_exit($c, 15), 0, 'clusterd: exit 0');
done_testing();
