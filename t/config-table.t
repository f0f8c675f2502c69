# The table of config keys (src/confkeys.c) against what users see: every
# key clusterd.conf(5) documents is a row and every row is documented;
# --check prints each key and reads back the same; and the effect a row
# gives a change shows on reload, key by key: LIVE keeps the workers,
# WORKERS replaces them by a rolling restart (a socket that has to be bound
# anew may instead refuse the reload), CLUSTERD keeps them and warns that
# clusterd itself has to restart.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;

my %sections = (clusterd => 'clusterd', socket => 'socket:NAME', program => 'program');

# --- The rows of src/confkeys.c: {section => {key => effect}} ---
my $src = slurp("$TOP_SRCDIR/src/confkeys.c") // BAIL_OUT('cannot read src/confkeys.c');
my (%table, @order);
while ($src =~ /^const struct key (\w+)_keys\[\] = \{\n(.*?)^\};/msg) {
	my ($sec, $rows) = ($1, $2);
	while ($rows =~ /\{ "(\w+)",\s*K_\w+,\s*[CPS]\(\w+\),\s*(LIVE|WORKERS|CLUSTERD),/g) {
		$table{$sec}{$1} = $2;
		push(@order, [$sec, $1]);
	}
}
is_deeply([sort keys %table], [sort keys %sections], 'confkeys.c: three tables of rows')
    or BAIL_OUT('cannot read the tables of src/confkeys.c');

# --- The keys clusterd.conf(5) documents, section by section ---
my $man = slurp("$TOP_SRCDIR/man/clusterd.conf.5") // BAIL_OUT('cannot read the man page');
my (%doc, $in);
for (split(/\n/, $man)) {
	if (/^\.Sh THE \[(\w+)(?::NAME)?\] SECTIONS?$/) {
		$in = $1;
	} elsif (/^\.Sh /) {
		undef $in;
	} elsif ($in && /^\.It Ic /) {
		$doc{$in}{$_} = 1 for /\bIc (\w+) No =/g;
	}
}
for my $sec (sort keys %sections) {
	is_deeply([sort keys %{ $doc{$sec} // {} }], [sort keys %{ $table{$sec} }],
	    "[$sections{$sec}]: the keys clusterd.conf(5) documents are the table's rows");
}

# A value other than the default for every key, good for --check and for a
# reload of a running pool. The unix socket's keys go to [socket:u].
my $port = free_port();
my $port2 = free_port();
my $port3 = free_port();
my $ctl = "$TMPDIR/ctl.sock";
my $user = getpwuid($<);
my $group = getgrgid($();
my %value = (
	clusterd => {
		workers => 2, name => 'renamed', control => "$TMPDIR/other.sock",
		pidfile => "$TMPDIR/clusterd.pid", stop_timeout => '5s', give_up_after => 7,
		subreaper => 'yes', log_prefix => 'yes', bind_shim => 'yes',
		compat => 'einhorn', restart_batch => 2, cgroups => 'no', recycle_batch => 2,
		scale_queue => 3, scale_window => '2s', scale_down_after => '20s',
		scale_cooldown => '10s', hang_timeout => '10s', max_age => '1h',
		max_age_jitter => '20%', metrics => "127.0.0.1:$port3",
		log_format => 'json',
	},
	socket => {
		listen => "127.0.0.1:$port2", backlog => 64, reuseport => 'yes',
		ipv6only => 'yes', freebind => 'yes', nodelay => 'yes', defer_accept => '1s',
		keepalive => 'yes', rcvbuf => '128k', sndbuf => '128k', transparent => 'yes',
		mode => '0600', owner => $user, group => $group,
	},
	program => {
		command => "$HELLO again", directory => $TMPDIR, user => $user,
		group => $group, umask => '0027', rlimit_nofile => 4096, ready => '100ms',
		ready_timeout => '20s', restart => 'on-failure', backoff_initial => '200ms',
		backoff_max => '20s', stable_after => '20s', stop_signal => 'INT',
		parent_death_signal => 'KILL', cpu_affinity => 'auto', watchdog => '1h',
		restart_mode => 'replace', memory_max => '512M', memory_high => '256M',
		pids_max => 1000, cpu_weight => 200, cpu_max => '150%',
	},
);
# What RELOADING in clusterd.conf(5) says a change of each key does; the
# reloads below check the table's effect against it.
my %documented = (
	clusterd => {
		LIVE => [qw(workers stop_timeout give_up_after restart_batch log_prefix
		    bind_shim recycle_batch scale_queue scale_window scale_down_after
		    scale_cooldown hang_timeout max_age max_age_jitter metrics
		    log_format)],
		WORKERS => [qw(compat)],
		CLUSTERD => [qw(name control pidfile subreaper cgroups)],
	},
	socket => {
		WORKERS => [qw(listen reuseport mode owner group ipv6only freebind
		    transparent)],
		LIVE => [qw(backlog nodelay defer_accept keepalive rcvbuf sndbuf)],
	},
	program => {
		WORKERS => [qw(command directory user group umask rlimit_nofile ready
		    watchdog parent_death_signal cpu_affinity memory_max memory_high
		    pids_max cpu_weight cpu_max)],
		LIVE => [qw(ready_timeout restart backoff_initial backoff_max stable_after
		    stop_signal restart_mode)],
	},
);
my %expect;
for my $sec (keys %documented) {
	for my $effect (keys %{ $documented{$sec} }) {
		$expect{$sec}{$_} = $effect for @{ $documented{$sec}{$effect} };
	}
}
my %unix_key = map { ($_ => 1) } qw(mode owner group);
for (@order) {
	my ($sec, $key) = @$_;
	ok(defined $value{$sec}{$key}, "[$sections{$sec}] $key: this test has a value for it")
	    or BAIL_OUT("add a value for $key to t/config-table.t");
	is($table{$sec}{$key}, $expect{$sec}{$key} // 'undocumented',
	    "[$sections{$sec}] $key: a change is $table{$sec}{$key} as documented");
}

# --- --check prints every key ---
sub conf_text {
	my ($set, $extra) = @_;
	my $s = '';
	for my $sec (qw(clusterd http u program)) {
		my $from = $sec eq 'http' || $sec eq 'u' ? 'socket' : $sec;
		$s .= $from eq 'socket' ? "[socket:$sec]\n" : "[$sec]\n";
		for my $key (map { $_->[1] } grep { $_->[0] eq $from } @order) {
			next if $from eq 'socket' && ($sec eq 'u') != ($unix_key{$key} // 0)
			    && $key ne 'listen';
			my $v = $set->{$from}{$key};
			$v = "unix:$TMPDIR/u.sock" if $sec eq 'u' && $key eq 'listen';
			$s .= "$key = $v\n" if defined $v;
		}
	}
	return $s . ($extra // '');
}
my $all = write_file("$TMPDIR/all.conf", conf_text(\%value, "[env]\nGREETING = all\n"));
my ($code, $out, $err) = run_clusterd(args => ['--check', '-c', $all]);
is($code, 0, '--check of a file that sets every key: exit 0') or diag($err);
my %printed;
my $at = '';
for (split(/\n/, $out)) {
	$at = $1 =~ /^socket:/ ? 'socket' : $1 if /^\[(.*)\]$/;
	$printed{$at}{$1} = 1 if /^(\w+) = /;
}
for (@order) {
	my ($sec, $key) = @$_;
	ok($printed{$sec}{$key}, "--check prints [$sections{$sec}] $key");
}
my $again = write_file("$TMPDIR/again.conf", $out);
my ($code2, $out2) = run_clusterd(args => ['--check', '-c', $again]);
is($out2, $out, '--check of what --check printed: the same');

# --- Reload, one key at a time ---
my %set = (clusterd => { workers => 1, control => $ctl },
    socket => { listen => "127.0.0.1:$port" }, program => { command => $HELLO });
my $conf = "$TMPDIR/web.conf";
my $env = "[env]\nGREETING = one\n";
sub config { write_file($conf, conf_text(\%set, $env)) }

config();
my $c = start_clusterd(args => ['-c', $conf]);
my @w = wait_generation($c->pid, 1, 1, 10, 'hello');
is(scalar(@w), 1, 'one worker of generation 1') or BAIL_OUT('clusterd did not start');

my $warn = qr/^clusterd: reload: .* effect when clusterd itself restarts$/m;
my $nworkers = 1;

sub generation { (ctl_status($ctl) // {})->{generation} // -1 }

# Change what $change does to %set, reload, and check that the effect is
# $effect's.
sub reload_check {
	my ($what, $effect, $change, $undo) = @_;
	my $gen = generation();
	my %before = %{ worker_gens($c->pid, 'hello') };
	my $mark = length(log_text($c));
	$change->();
	config();
	my ($code, $out, $err) = clusterctl($ctl, 'reload');
	my $log = sub { substr(log_text($c), $mark) };
	if ($effect eq 'WORKERS' && $code == 1 && $what =~ /^\[socket/) {
		# A socket bound anew beside the open one: refused, as
		# clusterd.conf(5) says; nothing changed.
		like($out . $err, qr/refused|in use|Address already/i,
		    "$what ($effect): a new socket; the reload is refused")
		    or diag($out, $err);
		is_deeply(worker_gens($c->pid, 'hello'), \%before,
		    "$what ($effect): refused: the same workers");
		$undo->();
		config();
		return;
	}
	if ($effect eq 'WORKERS' && $code == 1 &&
	    ($out . $err) =~ /needs (?:per-worker cgroups|the \w+ controller)/) {
		# A cgroup limit where the workers' cgroups cannot carry it (no
		# cgroups, or no such controller here): refused, as
		# clusterd.conf(5) says; nothing changed.
		is_deeply(worker_gens($c->pid, 'hello'), \%before,
		    "$what ($effect): the workers' cgroups cannot carry it: refused, the "
		    . "same workers");
		$undo->();
		config();
		return;
	}
	is($code, 0, "$what ($effect): reload exit 0") or diag($out, $err, $log->());
	if ($effect eq 'WORKERS') {
		my @new = wait_generation($c->pid, $nworkers, $gen + 1, 10, 'hello');
		is(generation(), $gen + 1, "$what ($effect): generation " . ($gen + 1))
		    or diag($log->());
		is(scalar(@new), $nworkers, "$what ($effect): $nworkers workers of it");
		ok(!grep({ $before{$_} } @new), "$what ($effect): none of the old workers is left");
	} else {
		ok(wait_for(sub { live_workers($c->pid, 'hello') == $nworkers }, 10,
		    "$nworkers workers"), "$what ($effect): $nworkers workers");
		my $now = worker_gens($c->pid, 'hello');
		ok(!grep({ !$now->{$_} } keys %before),
		    "$what ($effect): every worker is the one before") or diag($log->());
		is(generation(), $gen, "$what ($effect): still generation $gen");
	}
	if ($effect eq 'CLUSTERD') {
		like($log->(), qr/^clusterd: reload: .*\b\Q$what\E\b.* effect when clusterd itself restarts$/m,
		    "$what ($effect): the log says it waits for clusterd to restart");
	} else {
		unlike($log->(), $warn, "$what ($effect): no warning of a clusterd restart");
	}
}

sub reload_key {
	my ($sec, $key) = @_;
	my $effect = $expect{$sec}{$key} // 'undocumented';
	my $v = $value{$sec}{$key};
	my $old = $set{$sec}{$key};
	my $what = $sec ne 'socket' ? $key : $unix_key{$key} ? "[socket:u] $key" :
	    "[socket:http] $key";

	$nworkers = $v if $key eq 'workers';
	reload_check($what, $effect, sub { $set{$sec}{$key} = $v },
	    sub { defined $old ? ($set{$sec}{$key} = $old) : delete $set{$sec}{$key} });
}

reload_key(@$_) for grep { $_->[1] ne 'bind_shim' } @order;
reload_check('env', 'WORKERS', sub { $env = "[env]\nGREETING = two\n" }, sub {});
reload_check('command, the same words quoted otherwise', 'NONE',
    sub { $set{program}{command} = "'$HELLO' \"again\"" }, sub {});
# bind_shim last: workers started after it would run with the shim
# preloaded, which a sanitizer build refuses.
reload_key(@$_) for grep { $_->[1] eq 'bind_shim' } @order;

kill TERM => $c->pid;
is(wait_exit($c, 15), 0, 'exit 0');

done_testing();
