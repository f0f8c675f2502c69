# A real peer with worker processes of its own: Debian's nginx with its
# master process on, through --bind-shim (the master binds the port itself
# and gets clusterd's socket; its workers inherit it and accept):
#	clusterd --bind-shim -l 8080 -- nginx -g 'daemon off; master_process on;'
# A master killed with -9 leaves its workers in its process group, still
# answering on the port; clusterd stops them (issue 11), after a rolling
# restart nothing of the old generation answers, and once clusterd has
# exited nothing holds the port.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;

my $NGINX = '/usr/sbin/nginx';
plan(skip_all => "$NGINX is needed (Debian package nginx-light or nginx-core)")
    unless -x $NGINX;

my $port = free_port();
my $dir = "$TMPDIR/nginx";
mkdir($dir) or die "$dir: $!";
my $conf = write_file("$dir/nginx.conf", <<"END");
worker_processes 2;
error_log stderr;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $dir/body;
	proxy_temp_path $dir/proxy;
	fastcgi_temp_path $dir/fastcgi;
	uwsgi_temp_path $dir/uwsgi;
	scgi_temp_path $dir/scgi;
	server {
		listen 127.0.0.1:$port;
		location / { return 200 "nginx worker \$pid\\n"; }
	}
}
END

# Which nginx worker pids answer, over $n requests: {pid => count}.
sub answers {
	my ($n) = @_;
	my %a;
	for (1 .. $n) {
		my $b = http_get('127.0.0.1', $port, '/', 2) // '';
		$a{$b =~ /^nginx worker (\d+)$/ ? $1 : "bad answer: $b"}++;
	}
	return \%a;
}

# The master clusterd runs, and its two workers.
sub nginx_procs {
	my ($what, $clusterd) = @_;
	my ($master) = wait_workers($clusterd, 1, 10, 'nginx');
	my @w;
	wait_for(sub {
		@w = grep { alive($_) } worker_pids($master // 0);
		@w == 2;
	}, 10, "two nginx workers ($what)");
	return ($master, @w);
}

my $c = start_clusterd(args => ['--bind-shim', '-n', 1, '-l',
    "127.0.0.1:$port", '-t', '2s', '--', $NGINX, '-p', $dir, '-e', 'stderr',
    '-c', $conf, '-g', "daemon off; master_process on; pid $dir/nginx-{generation}.pid;"],
    env => { CLUSTERD_SHIM => "$TOP_BUILDDIR/src/clusterd-shim.so" });
my ($m1, @w1) = nginx_procs('first', $c->pid);
is(scalar(@w1), 2, "nginx's master ($m1) forked two workers");
ok($m1 && !(grep { (proc_stat($_) // {})->{pgid} != $m1 } @w1),
    'both are in the master\'s process group') or die "no nginx master\n";
my $a = answers(10);
ok(!(grep { my $p = $_; !grep { $_ == $p } @w1 } keys %$a),
    'its workers answer') or diag(explain($a));

# kill -9 of the master: its workers are stopped, the new master's answer.
kill KILL => $m1;
# (With per-worker cgroups, which clusterd uses where it may, its cgroup
# holds them; else its process group.)
ok($c->wait_log(qr/^clusterd: worker 0 \(pid $m1\) (?:left 2 processes in its group; sending SIGTERM|killed by signal 9; 2 processes left in its cgroup: stopping them)$/m),
    'log: worker 0 left 2 processes in its group or cgroup; they get SIGTERM');
ok(wait_for(sub { !grep { alive($_) } @w1 }, 5, 'the old workers to go'),
    'the killed master\'s workers are gone');
my ($m2, @w2) = nginx_procs('after kill -9', $c->pid);
isnt($m2, $m1, "a new master ($m2) with two workers");
# Which of a master's workers takes a connection is nginx's business (one
# may take them all): every answer must come from the new master's.
$a = answers(20);
ok(keys(%$a) && !(grep { my $p = $_; !grep { $_ == $p } @w2 } keys %$a),
    'only the new master\'s workers answer') or diag(explain($a));

# A rolling restart: nothing of generation 1 answers afterwards.
kill USR2 => $c->pid;
ok($c->wait_log(qr/^clusterd: rolling restart to generation 2 done$/m, 20),
    'rolling restart to generation 2 done');
ok(wait_for(sub { !grep { alive($_) } $m2, @w2 }, 5, 'generation 1 to go'),
    'generation 1\'s master and workers are gone');
my ($m3, @w3) = nginx_procs('generation 2', $c->pid);
$a = answers(20);
ok(keys(%$a) && !(grep { my $p = $_; !grep { $_ == $p } @w3 } keys %$a),
    'only generation 2\'s workers answer') or diag(explain($a));

# Stop: clusterd exits once nginx is gone; nothing listens on the port.
kill TERM => $c->pid;
is(wait_exit($c, 15), 0, 'SIGTERM: exit 0');
ok(!(grep { alive($_) } $m3, @w3), 'nginx is gone');
is_deeply(listen_sockets($port), {}, 'nothing listens on the port');
ok(IO::Socket::IP->new(LocalHost => '127.0.0.1', LocalPort => $port,
    Proto => 'tcp', Listen => 1, ReuseAddr => 1), 'the port can be bound at once');

done_testing();
