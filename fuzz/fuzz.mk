# libFuzzer targets for clusterd's parsers (issue 8); included from the top
# Makefile.am.
#
#	make fuzz			build, replay fuzz/regress/, fuzz each
#					target FUZZ_SECONDS (60) seconds
#	make fuzz FUZZ_SECONDS=600 FUZZ_TARGETS=config
#	make fuzz-build			only build fuzz/fuzz-TARGET
#	./fuzz/fuzz-config CRASH-FILE	replay one input
#	make fuzz-clean fuzz FUZZ_TARGETS=config FUZZ_EXTRA=-DFUZZ_ROUNDTRIP
#					also check that --check's output loads
#					back to the same settings
#
# Targets: config (config file + command line merge: inih, durations,
# values, command splitting, placeholders), addr (listening addresses),
# notify (sd_notify messages, through a real socket with fds attached),
# values (the value parsers on their own), control (the control
# protocol: request lines in pieces, clusterctl's words, reply headers).
# Each harness is fuzz/fuzz-T.c; its seed corpus is fuzz/corpus/T/, and every input that once crashed it
# is kept in fuzz/regress/T/ and replayed first (a regression test).
# make check (t/fuzz-smoke.t) only replays fuzz/regress/T/ and
# fuzz/corpus/T/, each file once, so that it gives the same answer every
# time; fuzzing for time happens here only.
#
# The harnesses are linked with every source of clusterd but its main()
# (src_clusterd_SOURCES without src/clusterd.c), built with clang's
# libFuzzer, ASan and UBSan. New inputs go to fuzz/work/T/ in the build
# tree, crashes to fuzz/artifacts/ (save them in fuzz/regress/T/).

FUZZ_CC = clang
FUZZ_SECONDS = 60
FUZZ_TARGETS = config addr notify values control
FUZZ_FLAGS =
FUZZ_CCFLAGS = -g -O1 -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-fsanitize-coverage-ignorelist=$(srcdir)/fuzz/coverage-ignore.txt \
	$(FUZZ_EXTRA)
FUZZ_EXTRA =
FUZZ_DEFS = $(DEFS) -I$(srcdir)/src -I$(srcdir)/fuzz $(INIH_CFLAGS) \
	-DSHIM_PATH='"$(pkglibexecdir)/clusterd-shim.so"'
FUZZ_LINK = $(INIH_LIBS) $(EV_LIBS) $(LIBS) -lm -ldl

FUZZ_HARNESSES = fuzz/fuzz-config.c fuzz/fuzz-addr.c fuzz/fuzz-notify.c \
	fuzz/fuzz-values.c fuzz/fuzz-control.c
EXTRA_DIST += fuzz/fuzz.mk fuzz/fuzz.h fuzz/coverage-ignore.txt $(FUZZ_HARNESSES) \
	fuzz/corpus fuzz/regress

# clusterd's sources (not main) as fuzzer-instrumented objects, rebuilt
# all at once whenever a source or header is newer than the last build.
fuzz/lib.stamp: $(src_clusterd_SOURCES)
	@$(MKDIR_P) fuzz/lib
	@rm -f fuzz/lib/*.o
	$(AM_V_GEN)for f in $(src_clusterd_SOURCES); do \
	  case $$f in src/clusterd.c|*.h) continue;; esac; \
	  o=fuzz/lib/`basename $$f .c`.o; \
	  $(FUZZ_CC) $(FUZZ_DEFS) -std=c11 $(FUZZ_CCFLAGS) -c \
	    -o $$o `test -f $$f || echo $(srcdir)/`$$f || exit 1; \
	done
	@touch $@

fuzz-build: fuzz/lib.stamp
	@for t in $(FUZZ_TARGETS); do \
	  src=`test -f fuzz/fuzz-$$t.c || echo $(srcdir)/`fuzz/fuzz-$$t.c; \
	  if test fuzz/fuzz-$$t -nt $$src && test fuzz/fuzz-$$t -nt fuzz/lib.stamp \
	    && test fuzz/fuzz-$$t -nt $(srcdir)/fuzz/fuzz.h; then continue; fi; \
	  echo "  FUZZ     fuzz/fuzz-$$t"; \
	  $(FUZZ_CC) $(FUZZ_DEFS) -std=c11 $(FUZZ_CCFLAGS) -o fuzz/fuzz-$$t \
	    $$src fuzz/lib/*.o $(FUZZ_LINK) || exit 1; \
	done

fuzz: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
	  $(MKDIR_P) fuzz/work/$$t fuzz/artifacts || exit 1; \
	  if ls $(srcdir)/fuzz/regress/$$t/* >/dev/null 2>&1; then \
	    echo "fuzz-$$t: replaying fuzz/regress/$$t"; \
	    ./fuzz/fuzz-$$t -artifact_prefix=fuzz/artifacts/$$t- \
	      $(srcdir)/fuzz/regress/$$t/* 2>fuzz/work/$$t.log \
	      || { tail -n 40 fuzz/work/$$t.log; exit 1; }; \
	  fi; \
	  echo "fuzz-$$t: $(FUZZ_SECONDS)s (log: fuzz/work/$$t.log)"; \
	  ./fuzz/fuzz-$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	    -max_len=8192 -artifact_prefix=fuzz/artifacts/$$t- $(FUZZ_FLAGS) \
	    fuzz/work/$$t $(srcdir)/fuzz/corpus/$$t 2>fuzz/work/$$t.log \
	    || { tail -n 40 fuzz/work/$$t.log; exit 1; }; \
	  grep -E 'DONE|^Done [0-9]+ runs' fuzz/work/$$t.log | sed "s/^/fuzz-$$t: /"; \
	done

fuzz-clean:
	-rm -rf fuzz/lib fuzz/work fuzz/artifacts fuzz/lib.stamp
	-for t in $(FUZZ_TARGETS); do rm -f fuzz/fuzz-$$t; done

clean-local: fuzz-clean
.PHONY: fuzz fuzz-build fuzz-clean
