# clusterd as a Nomad task, one per allocation, running examples/hello on
# port 8080 (the image of examples/Dockerfile): Nomad places and
# balances, clusterd supervises the workers inside.  The same ideas as
# examples/k8s/clusterd.yaml:
#
#	nomad job run examples/nomad/clusterd.nomad.hcl
#
# t/manifests.t parses this file and checks that the numbers agree;
# t/probes.t runs the check commands against a real clusterd.
job "clusterd-hello" {
  type = "service"

  group "web" {
    count = 3

    network {
      port "http" {
        to = 8080
      }
      port "metrics" {
        to = 9101
      }
    }

    # A new allocation must be healthy (its checks passing) before the
    # next old one goes.
    update {
      max_parallel     = 1
      health_check     = "checks"
      min_healthy_time = "10s"
      healthy_deadline = "2m"
      auto_revert      = true
    }

    service {
      name = "clusterd-hello"
      port = "http"

      # Ready: every wanted worker is ready (clusterctl status exits 0; 3
      # is degraded and fails the check, so Consul stops routing here).
      check {
        name     = "ready"
        type     = "script"
        task     = "clusterd"
        command  = "/usr/local/bin/clusterctl"
        args     = ["-t", "3s", "status"]
        interval = "5s"
        timeout  = "5s"
      }

      # Alive: clusterd answers, whatever the workers' state (a rolling
      # restart in progress answers 0 or 3); only "no answer" (4) counts,
      # and only that restarts the task.
      check {
        name     = "alive"
        type     = "script"
        task     = "clusterd"
        command  = "/bin/sh"
        args     = ["-c", "/usr/local/bin/clusterctl -t 3s status >/dev/null; test $? -ne 4"]
        interval = "10s"
        timeout  = "5s"

        check_restart {
          limit = 3
          grace = "10s"
        }
      }
    }

    # Prometheus scrapes GET /metrics on this port ("metrics" in the file).
    service {
      name = "clusterd-hello-metrics"
      port = "metrics"
      tags = ["prometheus", "metrics_path=/metrics"]
    }

    task "clusterd" {
      driver = "docker"

      config {
        image   = "clusterd-hello:latest"
        ports   = ["http", "metrics"]
        command = "/usr/local/bin/clusterd"
        args    = ["-c", "/local/clusterd.conf"]
      }

      # No "workers" in the file: clusterd runs one per CPU it may use, its
      # affinity mask capped by the cgroup's cpu.max quota.  cores = 2
      # gives the task two whole CPUs of its own (a cpuset; cpu = MHz
      # would only set a weight), so clusterd starts 2 workers.
      template {
        destination = "local/clusterd.conf"
        # A changed file is reloaded by clusterd in place (SIGHUP),
        # workers rolled if the program changed; the task is not restarted.
        change_mode   = "signal"
        change_signal = "SIGHUP"
        data          = <<-CONF
          [clusterd]
          stop_timeout = 20s
          metrics = 0.0.0.0:9101
          [socket:http]
          listen = 8080
          [program]
          command = /usr/local/bin/hello
        CONF
      }

      resources {
        cores  = 2
        memory = 256
      }

      # Deregistered from Consul this long before the kill signal, so that
      # no new connection is routed here while the workers stop.
      shutdown_delay = "5s"
      kill_signal    = "SIGTERM"
      # > stop_timeout: clusterd stops its workers and exits first.
      kill_timeout = "30s"
    }
  }
}
