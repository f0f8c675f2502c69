# The systemd units (decisions5 "Telling systemd", CONTRACT §6): generated
# by make from etc/*.in with the configured paths; clusterd.service is
# Type=notify with KillMode=mixed, Delegate=yes and OOMPolicy=continue
# (issue 13: per-worker cgroups) and reloads with clusterctl reload on its
# own control socket (so systemctl reload waits and reports the outcome);
# clusterd@.service runs one config per instance; the example socket unit
# names its fd.  systemd-analyze verify (Debian package systemd) checks them
# offline; t/systemd.t runs them under a real systemd.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;

my %unit;
for my $u ('clusterd.service', 'clusterd@.service', 'clusterd@.socket') {
	$unit{$u} = slurp("$TOP_BUILDDIR/etc/$u");
	ok(defined $unit{$u}, "etc/$u is generated in the build tree");
	$unit{$u} //= '';
	unlike($unit{$u}, qr/\@[a-z_]+\@/, "etc/$u: no \@placeholder\@ left");
}

sub keyval {
	my ($text, $key) = @_;
	my @v = $text =~ /^\Q$key\E=(.*)$/mg;
	return $v[-1];
}

my $s = $unit{'clusterd.service'};
is(keyval($s, 'Type'), 'notify', 'clusterd.service: Type=notify');
is(keyval($s, 'KillMode'), 'mixed', 'KillMode=mixed');
is(keyval($s, 'Delegate'), 'yes', 'Delegate=yes (per-worker cgroups)');
is(keyval($s, 'OOMPolicy'), 'continue', 'OOMPolicy=continue (a worker\'s OOM kill is not the service\'s)');
like(keyval($s, 'ExecStart') // '',
    qr{^/\S+/clusterd -c /\S*etc/clusterd/clusterd\.conf -s /run/clusterd/clusterd\.sock$},
    'ExecStart=BINDIR/clusterd -c .../etc/clusterd/clusterd.conf -s /run/clusterd/clusterd.sock');
my ($bindir) = (keyval($s, 'ExecStart') // '') =~ m{^(\S+)/clusterd };
$bindir //= '/nowhere';
is(keyval($s, 'ExecReload'), "$bindir/clusterctl -s /run/clusterd/clusterd.sock reload",
    'ExecReload=BINDIR/clusterctl -s /run/clusterd/clusterd.sock reload');
my $t = $unit{'clusterd@.service'};
is(keyval($t, 'Type'), 'notify', 'clusterd@.service: Type=notify');
is(keyval($t, 'KillMode'), 'mixed', 'KillMode=mixed');
is(keyval($t, 'Delegate'), 'yes', 'Delegate=yes');
is(keyval($t, 'OOMPolicy'), 'continue', 'OOMPolicy=continue');
like(keyval($t, 'ExecStart') // '',
    qr{^\Q$bindir\E/clusterd -c /\S*etc/clusterd/%i\.conf -s /run/clusterd/clusterd-%i\.sock$},
    'ExecStart=... -c .../clusterd/%i.conf -s /run/clusterd/clusterd-%i.sock');
is(keyval($t, 'ExecReload'), "$bindir/clusterctl -s /run/clusterd/clusterd-%i.sock reload",
    'ExecReload=BINDIR/clusterctl -s /run/clusterd/clusterd-%i.sock reload');
# Nothing but what clusterd's own package brings (/bin/kill is procps').
for my $u (sort keys %unit) {
	my @other = grep { !m{^\Q$bindir\E/(?:clusterd|clusterctl) } }
	    $unit{$u} =~ /^Exec\w+=[-\@:+!]*(\S+ )/mg;
	is_deeply(\@other, [], "$u runs only clusterd and clusterctl");
}
my $k = $unit{'clusterd@.socket'};
is(keyval($k, 'ListenStream'), '8080', 'clusterd@.socket: ListenStream=8080');
is(keyval($k, 'FileDescriptorName'), 'http', 'FileDescriptorName=http');

# systemd-analyze verify, on copies that run the build tree's programs.
my $SA = '/usr/bin/systemd-analyze';
SKIP: {
	skip("$SA is needed (Debian package systemd)", 2) unless -x $SA;
	my $dir = "$TMPDIR/units";
	mkdir($dir);
	for my $u (keys %unit) {
		(my $text = $unit{$u}) =~ s/^(Exec\w+=)\Q$bindir\E\/clusterd /$1$CLUSTERD /mg;
		$text =~ s/^(Exec\w+=)\Q$bindir\E\/clusterctl /$1$CLUSTERCTL /mg;
		write_file("$dir/$u", $text);
	}
	my $out = `cd $dir && SYSTEMD_LOG_LEVEL=info $SA verify --man=no ./clusterd.service ./clusterd\@web.service ./clusterd\@web.socket 2>&1`;
	is($?, 0, 'systemd-analyze verify: exit 0') or diag($out);
	my @warn = grep { /\S/ && !/^(Unit|Service|Socket)\b/ } split(/\n/, $out);
	is_deeply(\@warn, [], 'and nothing to say about them');
}

done_testing();
