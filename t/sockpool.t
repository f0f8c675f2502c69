# The pool of bound sockets that generations share (issue 12): a socket
# a reload removes is closed once no worker uses it, with one "closing
# ADDR (NAME)" line, every socket of a reuseport one going with it; a
# socket the new config keeps is the same socket; a stop closes the rest
# without a "closing" line each.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;

my $http = free_port();
my $rp = free_port();
my $ctl = "$TMPDIR/ctl.sock";
my $admin = "$TMPDIR/admin.sock";
my $conf = "$TMPDIR/pool.conf";

sub config {
	my (%o) = @_;
	write_file($conf, "[clusterd]\nworkers = 2\ncontrol = $ctl\n"
	    . "[socket:http]\nlisten = 127.0.0.1:$http\n"
	    . ($o{more} ? "[socket:admin]\nlisten = unix:$admin\n"
		. "[socket:rp]\nlisten = 127.0.0.1:$rp\nreuseport = yes\n" : '')
	    . "[program]\ncommand = $HELLO\n"
	    . "[env]\nGREETING = " . ($o{greeting} // 'one') . "\n");
}
sub closing { my ($c) = @_; [log_text($c) =~ /^clusterd: (closing .*)$/mg] }

config(more => 1);
my $c = start_clusterd(args => ['-c', $conf]);
my @w = wait_generation($c->pid, 2, 1, 5, 'hello');
is(scalar(@w), 2, 'two workers of generation 1');
ok(wait_for(sub { keys %{ listen_sockets($rp) } == 2 }, 5, 'a socket per slot'),
    'reuseport: a socket per slot (2)');
ok(-S $admin, "the socket file $admin is there");
my @httpino = keys %{ listen_sockets($http) };
is(scalar(@httpino), 1, 'one socket on the http port');

# A reload that removes two sockets: a rolling restart to generation 2,
# after which the old generation's sockets close.
config();
my ($code, $out, $err) = clusterctl($ctl, 'reload');
is($code, 0, 'sockets removed: exit 0') or diag($out, $err);
like($out . $err, qr/rolling restart to generation 2 done/,
    'sockets removed: rolling restart to generation 2 done');
ok($c->wait_log(qr/^clusterd: closing 127\.0\.0\.1:$rp \(rp\)$/m),
    'log: closing 127.0.0.1:PORT (rp)');
ok($c->wait_log(qr/^clusterd: closing unix:\Q$admin\E \(admin\)$/m),
    'log: closing unix:PATH (admin)');
ok(wait_for(sub { !%{ listen_sockets($rp) } }, 5, 'the reuseport sockets to close'),
    'reuseport: every socket of the removed one is closed')
    or diag(explain(listen_sockets($rp)));
ok(!-e $admin, "the socket file $admin is removed");
is_deeply([sort keys %{ listen_sockets($http) }], \@httpino,
    'the http socket the new config keeps is the same socket');
is(scalar(() = log_text($c) =~ /^clusterd: listening on 127\.0\.0\.1:$http /mg), 1,
    'the http socket was bound once');
like(http_get('127.0.0.1', $http) // '', qr/^hello world/, 'http still serves');
is_deeply([sort @{ closing($c) }],
    [sort("closing 127.0.0.1:$rp (rp)", "closing unix:$admin (admin)")],
    'the two removed sockets, one "closing" line each, nothing else')
    or diag(explain(closing($c)));

# A restart keeps every socket: nothing is closed.
($code, $out, $err) = clusterctl($ctl, 'restart');
is($code, 0, 'restart: exit 0') or diag($out, $err);
is(scalar(wait_generation($c->pid, 2, 3, 5, 'hello')), 2, 'two workers of generation 3');
is(scalar(@{ closing($c) }), 2, 'restart: no socket is closed');
is_deeply([sort keys %{ listen_sockets($http) }], \@httpino, 'restart: the same http socket');

# A stop closes the rest quietly.
kill TERM => $c->pid;
is(wait_exit($c), 0, 'SIGTERM: exit 0');
ok($c->log_matches(qr/^clusterd: stopped$/m), 'log: stopped');
is(scalar(@{ closing($c) }), 2, 'stop: no "closing" line for the http socket')
    or diag(explain(closing($c)));
is_deeply(listen_sockets($http), {}, 'stop: nothing listens on the http port');

done_testing();
