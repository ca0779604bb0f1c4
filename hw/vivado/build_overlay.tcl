# Build the PYNQ overlay: feed_to_book.bit + feed_to_book.hwh for one board.
#
#   vivado -mode batch -source build_overlay.tcl -tclargs BOARD OUTDIR [JOBS]
#
# Block design: the board's PS, an AXI DMA in simple mode (MM2S -> feed_to_book_dma
# s_axis: length-delimited frames; S2MM <- m_axis: packets of BBO record slots),
# AXI-Lite from the PS to the DMA's registers and to the CSRs, one PL clock.
# Every number (part, ports, widths, clock, RTL parameters, CSR window) comes
# from generated_params.tcl; `make bitstream BOARD=...` runs this script.

set tickaccel_vivado_dir [file dirname [file normalize [info script]]]
set tickaccel_library_only 1
source [file join $tickaccel_vivado_dir package_ip.tcl]

proc tickaccel_ip {name} {
    # The newest version of a Xilinx IP this Vivado has, so the script is not tied to one release.
    set defs [lsort -dictionary [get_ipdefs -filter "NAME == $name && VENDOR == xilinx.com"]]
    if {$defs eq ""} {
        error "this Vivado has no IP named $name"
    }
    return [lindex $defs end]
}

proc tickaccel_build_overlay {board_name outdir jobs} {
    global TICKACCEL_BOARDS TICKACCEL_STREAM_WIDTH TICKACCEL_DMA_LENGTH_WIDTH TICKACCEL_CSR_RANGE
    global TICKACCEL_IP_VENDOR TICKACCEL_IP_LIBRARY TICKACCEL_IP_NAME TICKACCEL_IP_VERSION
    global TICKACCEL_RESET

    if {![dict exists $TICKACCEL_BOARDS $board_name]} {
        error "unknown board $board_name; supported: [join [dict keys $TICKACCEL_BOARDS] {, }]"
    }
    set board [dict get $TICKACCEL_BOARDS $board_name]
    set ps_kind [dict get $board ps]
    set hp_port [dict get $board hp_port]
    set hp_width [dict get $board hp_width]
    set control_port [dict get $board control_port]
    set mhz [dict get $board pl_clock_mhz]
    set work [file normalize [file join $outdir work]]
    set ip_repo [file join $work ip_repo]

    tickaccel_package_ip $board_name $ip_repo

    create_project -force overlay [file join $work overlay] -part [dict get $board part]
    set board_part [dict get $board board_part]
    if {[get_board_parts -quiet $board_part] eq ""} {
        error "Vivado has no board files for $board_part: install them (Xilinx Board Store, or the vendor's files for $board_name)"
    }
    set_property board_part $board_part [current_project]
    set_property ip_repo_paths [list $ip_repo] [current_project]
    update_ip_catalog
    create_bd_design feed_to_book

    if {$ps_kind eq "zynq7"} {
        set ps [create_bd_cell -type ip -vlnv [tickaccel_ip processing_system7] ps]
        apply_bd_automation -rule xilinx.com:bd_rule:processing_system7 \
            -config {make_external "FIXED_IO, DDR" apply_board_preset "1"} $ps
        set_property -dict [list CONFIG.PCW_USE_M_AXI_GP0 1 CONFIG.PCW_USE_S_AXI_HP0 1 \
            CONFIG.PCW_S_AXI_HP0_DATA_WIDTH $hp_width CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ $mhz] $ps
        set clock_pin /ps/FCLK_CLK0
        set address_width 32
    } else {
        set ps [create_bd_cell -type ip -vlnv [tickaccel_ip zynq_ultra_ps_e] ps]
        apply_bd_automation -rule xilinx.com:bd_rule:zynq_ultra_ps_e -config {apply_board_preset "1"} $ps
        set_property -dict [list CONFIG.PSU__USE__M_AXI_GP0 1 CONFIG.PSU__USE__M_AXI_GP1 0 \
            CONFIG.PSU__USE__S_AXI_GP2 1 CONFIG.PSU__SAXIGP2__DATA_WIDTH $hp_width \
            CONFIG.PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ $mhz] $ps
        set clock_pin /ps/pl_clk0
        set address_width 64
    }

    set dma [create_bd_cell -type ip -vlnv [tickaccel_ip axi_dma] dma]
    set_property -dict [list CONFIG.c_include_sg 0 CONFIG.c_sg_length_width $TICKACCEL_DMA_LENGTH_WIDTH \
        CONFIG.c_m_axis_mm2s_tdata_width $TICKACCEL_STREAM_WIDTH \
        CONFIG.c_s_axis_s2mm_tdata_width $TICKACCEL_STREAM_WIDTH \
        CONFIG.c_m_axi_mm2s_data_width $hp_width CONFIG.c_m_axi_s2mm_data_width $hp_width \
        CONFIG.c_mm2s_burst_size 64 CONFIG.c_s2mm_burst_size 64 CONFIG.c_addr_width $address_width] $dma

    set vlnv "$TICKACCEL_IP_VENDOR:$TICKACCEL_IP_LIBRARY:$TICKACCEL_IP_NAME:$TICKACCEL_IP_VERSION"
    set top [create_bd_cell -type ip -vlnv $vlnv feed_to_book_0]
    set config {}
    dict for {name value} [dict get $board parameters] {
        lappend config CONFIG.$name $value
    }
    set_property -dict $config $top

    connect_bd_intf_net [get_bd_intf_pins dma/M_AXIS_MM2S] [get_bd_intf_pins feed_to_book_0/s_axis]
    connect_bd_intf_net [get_bd_intf_pins feed_to_book_0/m_axis] [get_bd_intf_pins dma/S_AXIS_S2MM]
    foreach slave {/dma/S_AXI_LITE /feed_to_book_0/s_axil} {
        apply_bd_automation -rule xilinx.com:bd_rule:axi4 -config [list Master /ps/$control_port \
            Slave $slave Clk_master $clock_pin Clk_slave $clock_pin Clk_xbar $clock_pin \
            intc_ip {New AXI Interconnect}] [get_bd_intf_pins $slave]
    }
    foreach master {/dma/M_AXI_MM2S /dma/M_AXI_S2MM} {
        apply_bd_automation -rule xilinx.com:bd_rule:axi4 -config [list Master $master \
            Slave /ps/$hp_port Clk_master $clock_pin Clk_slave $clock_pin Clk_xbar $clock_pin \
            intc_ip {Auto}] [get_bd_intf_pins ps/$hp_port]
    }
    # The automation resets AXI slaves with the active-low reset; the core's rst is active high.
    set reset_pin [get_bd_pins feed_to_book_0/$TICKACCEL_RESET]
    if {[get_bd_nets -quiet -of_objects $reset_pin] eq ""} {
        set reset_block [lindex [get_bd_cells -filter {VLNV =~ "*proc_sys_reset*"}] 0]
        connect_bd_net [get_bd_pins $reset_block/peripheral_reset] $reset_pin
    }

    assign_bd_address
    foreach segment [get_bd_addr_segs -filter {NAME =~ "*feed_to_book_0*"}] {
        set_property range [expr {$TICKACCEL_CSR_RANGE >> 10}]K $segment
    }
    validate_bd_design
    save_bd_design

    set bd_file [get_files feed_to_book.bd]
    add_files -norecurse [make_wrapper -files $bd_file -top]
    set_property top feed_to_book_wrapper [current_fileset]
    update_compile_order -fileset sources_1
    launch_runs impl_1 -to_step write_bitstream -jobs $jobs
    wait_on_run impl_1
    if {[get_property PROGRESS [get_runs impl_1]] ne "100%"} {
        error "implementation did not finish: see [get_property DIRECTORY [get_runs impl_1]]"
    }
    open_run impl_1
    set wns [get_property SLACK [get_timing_paths -max_paths 1 -nworst 1 -setup]]
    if {$wns < 0} {
        error "timing not met at $mhz MHz (WNS $wns ns): lower pl_clock_mhz of $board_name in host/fpga/boards.py and regenerate"
    }

    # PYNQ wants the bitstream and its hardware handoff side by side with one base name.
    file mkdir $outdir
    set bit [lindex [glob [file join [get_property DIRECTORY [get_runs impl_1]] *.bit]] 0]
    set hwh [lindex [glob [file join $work overlay overlay.*/sources_1/bd/feed_to_book/hw_handoff/feed_to_book.hwh]] 0]
    file copy -force $bit [file join $outdir feed_to_book.bit]
    file copy -force $hwh [file join $outdir feed_to_book.hwh]
    puts "tickaccel: $board_name overlay in $outdir (feed_to_book.bit, feed_to_book.hwh), WNS $wns ns at $mhz MHz"
}

if {[llength $argv] < 2 || [llength $argv] > 3} {
    error "usage: vivado -mode batch -source build_overlay.tcl -tclargs BOARD OUTDIR \[JOBS\]"
}
tickaccel_build_overlay [lindex $argv 0] [lindex $argv 1] [expr {[llength $argv] == 3 ? [lindex $argv 2] : 4}]
