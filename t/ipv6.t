# IPv6: [V6]:PORT, and :PORT / PORT dual-stack on [::] (v4 and v6 clients).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;

plan(skip_all => 'no IPv6 on this machine') unless have_ipv6();

my $port = free_port();
my $c = start_clusterd(args => ['-n', 2, '-l', "[::1]:$port", '--', $HELLO]);
ok($c->wait_log(qr/^clusterd: listening on \[::1\]:$port \(listen0\)$/m),
    'log: listening on [::1]:PORT');
wait_workers($c->pid, 2, 5, 'hello');
like(http_get('::1', $port) // '', qr/^hello world from worker \d/,
    'answers on [::1]');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');

for my $form (":%d", "%d") {
	$port = free_port();
	my $addr = sprintf($form, $port);
	$c = start_clusterd(args => ['-n', 2, '-l', $addr, '--', $HELLO]);
	ok($c->wait_log(qr/^clusterd: listening on \[::\]:$port \(listen0\)$/m),
	    "-l $addr: listening on [::]:$port");
	wait_workers($c->pid, 2, 5, 'hello');
	like(http_get('127.0.0.1', $port) // '', qr/^hello world/,
	    "-l $addr: answers on 127.0.0.1 (dual-stack)");
	like(http_get('::1', $port) // '', qr/^hello world/,
	    "-l $addr: answers on ::1");
	kill TERM => $c->pid;
	is(wait_exit($c), 0, 'exit 0');
}

# A host name: the first getaddrinfo result.
$port = free_port();
$c = start_clusterd(args => ['-n', 1, '-l', "localhost:$port", '--', $HELLO]);
my ($host) = $c->wait_log(
    qr/^clusterd: listening on (127\.0\.0\.1|\[::1\]):$port \(listen0\)$/m);
ok($host, "localhost:PORT: listening on $host");
wait_workers($c->pid, 1, 5, 'hello');
(my $h = $host // '127.0.0.1') =~ tr/[]//d;
like(http_get($h, $port) // '', qr/^hello world/, 'answers');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');

done_testing();
