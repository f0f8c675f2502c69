# examples/Dockerfile (decisions5 "Containers"): docker cannot run here, so
# the file is parsed: FROM first, COPY, an exec-form ENTRYPOINT that runs
# clusterd, and that command line is one clusterd --check accepts.  The
# container behaviour itself (PID 1) is t/pid1.t.
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

done_testing();
