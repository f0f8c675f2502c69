# The systemd units (decisions5 "Telling systemd", CONTRACT §6): generated
# by make from etc/*.in with the configured paths; clusterd.service is
# Type=notify with KillMode=mixed and reloads with SIGHUP; clusterd@.service
# runs one config per instance; the example socket unit names its fd.
# systemd-analyze verify (Debian package systemd) checks them offline.
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
like(keyval($s, 'ExecReload') // '', qr{^(/\S+/)?kill -HUP \$MAINPID$},
    'ExecReload=kill -HUP $MAINPID');
like(keyval($s, 'ExecStart') // '', qr{^/\S+/clusterd -c /\S*etc/clusterd/clusterd\.conf$},
    'ExecStart=BINDIR/clusterd -c .../etc/clusterd/clusterd.conf');
my ($bin) = (keyval($s, 'ExecStart') // '') =~ /^(\S+)/;
my $t = $unit{'clusterd@.service'};
is(keyval($t, 'Type'), 'notify', 'clusterd@.service: Type=notify');
is(keyval($t, 'KillMode'), 'mixed', 'KillMode=mixed');
like(keyval($t, 'ExecStart') // '',
    qr{^\Q$bin\E -c /\S*etc/clusterd/%i\.conf -s /run/clusterd/clusterd-%i\.sock$},
    'ExecStart=... -c .../clusterd/%i.conf -s /run/clusterd/clusterd-%i.sock');
my $k = $unit{'clusterd@.socket'};
is(keyval($k, 'ListenStream'), '8080', 'clusterd@.socket: ListenStream=8080');
is(keyval($k, 'FileDescriptorName'), 'http', 'FileDescriptorName=http');

# systemd-analyze verify, on copies that run the build tree's clusterd.
my $SA = '/usr/bin/systemd-analyze';
SKIP: {
	skip("$SA is needed (Debian package systemd)", 2) unless -x $SA;
	my $dir = "$TMPDIR/units";
	mkdir($dir);
	for my $u (keys %unit) {
		(my $text = $unit{$u}) =~ s/^(ExecStart=)\Q$bin\E /$1$CLUSTERD /mg;
		write_file("$dir/$u", $text);
	}
	my $out = `cd $dir && SYSTEMD_LOG_LEVEL=info $SA verify --man=no ./clusterd.service ./clusterd\@web.service ./clusterd\@web.socket 2>&1`;
	is($?, 0, 'systemd-analyze verify: exit 0') or diag($out);
	my @warn = grep { /\S/ && !/^(Unit|Service|Socket)\b/ } split(/\n/, $out);
	is_deeply(\@warn, [], 'and nothing to say about them');
}

done_testing();
