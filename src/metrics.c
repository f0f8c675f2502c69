/*
 * The exposition: see metrics.h.
 */
#include "metrics.h"
#include "strv.h"
#include "supervisor.h"

void
metrics_render(struct supervisor *sup, struct sbuf *out, int openmetrics)
{
	(void)sup;
	sbuf_printf(out, "# HELP clusterd_build_info The clusterd build that runs.\n"
	    "# TYPE clusterd_build_info gauge\n"
	    "clusterd_build_info{version=\"%s\",commit=\"%s\"} 1\n",
	    PACKAGE_VERSION, CLUSTERD_COMMIT);
	if (openmetrics)
		sbuf_printf(out, "# EOF\n");
}
