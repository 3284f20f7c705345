//! Nothing to build: this repository holds a network's boot configuration (`kea-dhcp4.conf`,
//! `tftp/`, `etc/default/tftpd-hpa`) and the tests in `tests/` prove that it boots.
