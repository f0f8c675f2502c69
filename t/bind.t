# Bind first, fail fast: a busy port is "ADDR: Address already in use",
# exit 2, with no worker started and nothing left running.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;

my $busy = IO::Socket::IP->new(LocalHost => '127.0.0.1', LocalPort => 0,
    Listen => 5) or die "listen: $!";
my $port = $busy->sockport;

sub busy {
	my ($what, $args, $addr) = @_;
	my ($code, $out, $err) = run_clusterd(args => [@$args, '--', $HELLO]);
	is($code, 2, "$what: exit 2");
	like($err, qr/^clusterd: \Q$addr\E: Address already in use$/m,
	    "$what: clusterd: $addr: Address already in use");
	unlike($err, qr/started/, "$what: no worker started");
	is_deeply([tagged_pids()], [], "$what: nothing left running");
}

busy('HOST:PORT', ['-n', 2, '-l', "127.0.0.1:$port"], "127.0.0.1:$port");
busy('second socket', ['-n', 2, '-l', '127.0.0.1:0', '-l',
    "127.0.0.1:$port"], "127.0.0.1:$port");
busy('NAME=HOST:PORT', ['-n', 2, '-l', "web=127.0.0.1:$port"],
    "127.0.0.1:$port");
# dual-stack [::]:PORT conflicts with 127.0.0.1:PORT
busy(':PORT', ['-n', 2, '-l', ":$port"], ":$port");
busy('PORT', ['-n', 2, '-l', $port], $port);

my $conf = write_file("$TMPDIR/busy.conf", <<"END");
[socket:web]
listen = 127.0.0.1:$port
[program]
command = $HELLO
END
busy('[socket:web]', ['-n', 2, '-c', $conf], "127.0.0.1:$port");

# The port still belongs to its owner.
ok($busy->sockport == $port, 'the busy socket is untouched');

done_testing();
