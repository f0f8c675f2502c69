# examples/Dockerfile (decisions5 "Containers"): docker cannot run here, so
# the file is parsed: FROM first, COPY, an exec-form ENTRYPOINT that runs
# clusterd, and that command line is one clusterd --check accepts.  The
# container behaviour itself (PID 1) is t/pid1.t.  Issue 17: it is
# multi-stage with a runtime stage that builds nothing and needs no
# library but libc (the build stage checks the static link), its health
# check is clusterctl status mapped to docker's 0/1, and its comments give
# the docker run flags per-worker cgroups need and a stop grace longer
# than stop_timeout.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use Clusterd;

my $file = "$TOP_SRCDIR/examples/Dockerfile";
ok(-f $file, 'examples/Dockerfile exists') or BAIL_OUT("no $file");

# Instructions: comments dropped, "\" continuations joined.
my $text = slurp($file);
$text =~ s/^\s*#.*\n//mg;
$text =~ s/\\\n/ /g;
my @ins = map { /^\s*(\w+)\s+(.*?)\s*$/ ? [uc $1, $2] : () }
    grep { /\S/ } split(/\n/, $text);
my %known = map { $_ => 1 } qw(FROM RUN CMD LABEL EXPOSE ENV ADD COPY
    ENTRYPOINT VOLUME USER WORKDIR ARG ONBUILD STOPSIGNAL HEALTHCHECK SHELL);
is_deeply([grep { !$known{$_->[0]} } @ins], [], 'every line is a Dockerfile instruction');
my ($first) = grep { $_->[0] ne 'ARG' } @ins;
is($first->[0] // '', 'FROM', 'FROM comes first');
ok(scalar(grep { $_->[0] eq 'COPY' } @ins), 'COPY present');

# The final stage: from its FROM on.
my $last_from = (grep { $ins[$_][0] eq 'FROM' } 0 .. $#ins)[-1] // 0;
my @final = @ins[$last_from .. $#ins];
my ($ep) = reverse grep { $_->[0] eq 'ENTRYPOINT' } @final;
ok($ep, 'the final stage has an ENTRYPOINT');
my $argv = eval { decode_json($ep->[1] // '') };
is(ref $argv, 'ARRAY', 'ENTRYPOINT is the exec form (clusterd is PID 1, no shell)')
    or diag($@);
$argv = [] unless ref $argv eq 'ARRAY';
like($argv->[0] // '', qr{^/\S*/clusterd$}, 'ENTRYPOINT runs clusterd by its full path');
my ($cmd) = reverse grep { $_->[0] eq 'CMD' } @final;
my $cmdargs = $cmd ? eval { decode_json($cmd->[1]) } // [] : [];
my @args = (@$argv[1 .. $#$argv], @$cmdargs);
my ($dd) = grep { $args[$_] eq '--' } 0 .. $#args;
ok(defined $dd && ($args[$dd + 1] // '') =~ m{/hello$},
    'it runs examples/hello after --');
my ($sig) = map { $_->[1] } grep { $_->[0] eq 'STOPSIGNAL' } @final;
ok(!defined $sig || $sig =~ /^SIG(TERM|INT)$/,
    'STOPSIGNAL (if any) is one clusterd stops gracefully on');

# The hello the image runs is built from this tree, and installed there.
ok(scalar(grep { $_->[0] eq 'RUN' && $_->[1] =~ m{examples/hello} } @ins),
    'a RUN step installs examples/hello');
my $hello_at = $args[($dd // -2) + 1] // '';
ok(scalar(grep { $_->[0] eq 'RUN' && $_->[1] =~ /\Q$hello_at\E/ } @ins)
    || scalar(grep { $_->[0] =~ /^(COPY|ADD)$/ && $_->[1] =~ /\Q$hello_at\E/ } @ins)
    || scalar(grep { $_->[0] eq 'COPY' && $_->[1] =~ m{--from=\S+ /out/ /} } @final),
    "$hello_at is put into the image");

# The command line is one clusterd accepts; the port it listens on is EXPOSEd.
my ($code, $out, $err) = run_clusterd(args => ['--check', @args]);
is($code, 0, 'clusterd --check accepts the ENTRYPOINT\'s arguments')
    or diag($err);
my ($port) = ($out // '') =~ /^listen = \[?[^\n]*?:?(\d+)$/m;
my @exposed = map { split(' ', $_->[1]) } grep { $_->[0] eq 'EXPOSE' } @final;
ok($port && grep({ m{^$port(/tcp)?$} } @exposed), "port $port is EXPOSEd")
    or diag("--check: $out");


# Multi-stage: the runtime stage installs no compiler and no -dev package;
# it installs no library either, so the build stage must have linked libev
# and inih statically and checked it.
my @froms = grep { $_->[0] eq 'FROM' } @ins;
cmp_ok(scalar(@froms), '>=', 2, 'multi-stage build');
my @final_runs = map { $_->[1] } grep { $_->[0] eq 'RUN' } @final;
ok(!grep({ /build-essential|-dev\b|\bgcc\b|\bmake\b/ } @final_runs), 'the runtime stage builds nothing');
my @build = @ins[0 .. $last_from - 1];
ok(grep({ /libev4/ && /libinih1/ } @final_runs)
    || grep({ $_->[0] eq 'RUN' && $_->[1] =~ /ldd .*clusterd.*libev.*libinih|ldd .*clusterd.*libinih.*libev/ } @build),
    'the runtime has libev and inih: installed, or linked statically and checked by ldd in the build');

# HEALTHCHECK: clusterctl status, its 3 and 4 mapped to docker's 1.
my ($hc) = map { $_->[1] } grep { $_->[0] eq 'HEALTHCHECK' } @final;
like($hc // '', qr{CMD .*clusterctl\b.*\bstatus\b.*\|\| exit 1}, 'HEALTHCHECK runs clusterctl status, exit 1 when not 0');
like($hc // '', qr/--start-period=\d+/, 'HEALTHCHECK allows a start period (status is 3 while workers start)');

# The documented docker run flags and grace periods.
my $raw = slurp($file);
like($raw, qr/^#.*docker run --cgroupns=private --privileged/m, 'documents docker run --cgroupns=private for per-worker cgroups');
my ($stop) = ($out // '') =~ /^stop_timeout = (\d+)s$/m;
ok($stop, "the image's stop_timeout: ${\ ($stop // '?')}s");
like($raw, qr/docker's --stop-timeout\s*#?\s*\(10s by default\)/, "docker's default grace (10s) is named");
cmp_ok(10, '>', $stop // 1e9, "docker's default 10 s > stop_timeout");
my ($dst, $cst) = $raw =~ /docker run --stop-timeout (\d+) .*stop_timeout = (\d+)s/;
ok($dst && $cst && $dst > $cst, "the example --stop-timeout ($dst) > its stop_timeout ($cst)");

done_testing();
