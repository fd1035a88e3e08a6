# bash completion for carbonsweep: its commands and their main flags.
# Installed as share/bash-completion/completions/carbonsweep; or `source` it.
# Keep in step with `carbonsweep <command> --help` (docs/carbonsweep.1 too).

_carbonsweep() {
  local cur prev command flags
  cur=${COMP_WORDS[COMP_CWORD]}
  prev=${COMP_WORDS[COMP_CWORD-1]}
  local commands="version run resume status list regions report compare estimate trial baseline job pretrain"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "$commands --help --version" -- "$cur"))
    return
  fi
  command=${COMP_WORDS[1]}

  # Values of flags that take a file, a directory or one of a few words.
  case $prev in
    --db|--config|--out|--html|--intensity-file|--vocab|--model|--calibration|--live-report)
      COMPREPLY=($(compgen -f -- "$cur")); return ;;
    --backbone|--work-root|--work-dir|--init-from)
      COMPREPLY=($(compgen -d -- "$cur")); return ;;
    --strategy) COMPREPLY=($(compgen -W "random grid halving" -- "$cur")); return ;;
    --on-budget) COMPREPLY=($(compgen -W "stop finish" -- "$cur")); return ;;
    --prune) COMPREPLY=($(compgen -W "none median" -- "$cur")); return ;;
    --launcher) COMPREPLY=($(compgen -W "local slurm" -- "$cur")); return ;;
    --format) COMPREPLY=($(compgen -W "terminal csv json model-card html" -- "$cur")); return ;;
    --kind) COMPREPLY=($(compgen -W "country us-state ca-province nordic-zone cloud" -- "$cur")); return ;;
    --task) COMPREPLY=($(compgen -W "imdb fortunes" -- "$cur") $(compgen -f -- "$cur")); return ;;
    --space) COMPREPLY=($(compgen -W "carbonsweep-small ci-tiny bert-devlin2019 roberta-glue turc2019-small-bert" -- "$cur") $(compgen -f -- "$cur")); return ;;
    --gpus) COMPREPLY=($(compgen -W "none all" -- "$cur")); return ;;
    --mode) COMPREPLY=($(compgen -W "max min" -- "$cur")); return ;;
  esac

  local carbon="--region --intensity --pue"
  local task="--task --text-column --label-column --train-size --val-size --test-size --data-size --data-seed"
  case $command in
    run) flags="--budget --strategy --space --seed --trials --name --parallel --threads --on-budget --prune
                --prune-min-epochs --asha-min-epochs --asha-max-epochs --reduction-factor --max-intensity
                --max-delay --backbone --from-scratch --vocab --model --work-root --launcher --gpus
                --gpus-per-trial --command --metric --mode --slurm-partition --slurm-gres --slurm-time --slurm-extra
                $carbon --intensity-file --cpu-watts --sample-interval $task --db --quiet --json --live-report" ;;
    resume) flags="--name --budget --parallel --threads --db --quiet --json --live-report" ;;
    status) flags="--name --db --json" ;;
    list) flags="--db --json" ;;
    regions) flags="--query --kind" ;;
    report) flags="--name --db --format --out" ;;
    compare) flags="--sweeps --db --html --force --within" ;;
    estimate) flags="--space --strategy --grid-points --trials --budget --calibration --calibrate --db
                     --examples-per-trial --gpu --gpus --tdp-watts --hours-per-trial $carbon $task --json" ;;
    job) flags="--work-dir --sample-interval --cpu-watts" ;;
    trial) flags="--params --backbone --from-scratch --model --vocab --threads --work-dir --out
                  --stop-after-epoch --quiet --meter-self --cpu-watts --sample-interval $task" ;;
    baseline) flags="--max-words --no-bigrams --threads --out --db $carbon $task" ;;
    pretrain) flags="--out --minutes --steps --vocab-size --seq-len --mask-rate --batch --lr --warmup-steps
                     --threads --seed --layers --hidden --heads --ff --embedding-init --pool-task --sources
                     --heldout-chunks --checkpoint-minutes --resume --init-from --stop-after-steps $carbon" ;;
    *) return ;;
  esac
  if [[ $cur == -* || -z $cur ]]; then
    COMPREPLY=($(compgen -W "$flags --help --config" -- "$cur"))
  fi
}
complete -F _carbonsweep carbonsweep
