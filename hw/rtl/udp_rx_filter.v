// Ethernet II (optionally one 802.1Q tag) / IPv4 / UDP receive and filter.
//
// Frames arrive on s_axis starting at the destination MAC; every non-last
// beat is full. The UDP payload of frames addressed to cfg_dest_ip /
// cfg_dest_port leaves on m_axis cut-through, without realignment: the first
// payload beat has the header lanes nulled in tkeep (legal AXI4-Stream null
// bytes), so the kept lanes of every beat form one contiguous run. Ethernet
// padding after the IP total length is not forwarded.
//
// Every frame ends in exactly one stat_* strobe: passed or one drop reason.
// Header checks are made, in a fixed priority order, in the beat that
// completes the bytes they need. Two faults show only at the end of the
// frame (tuser set on the last beat, or fewer bytes than the IP total length);
// the payload already forwarded cannot be recalled, so the last payload beat
// is marked with m_axis_tuser = 1 and downstream discards that beat and any
// message left incomplete. When padding follows the payload, the last
// payload beat is held until the frame's last beat shows its tuser.
//
// Two pipeline stages, so no path runs from a header byte to the output.
// The check stage takes each beat and captures the header fields it brings;
// every check is made in the beat that completes its bytes and registered
// as a flag with the beat (fields that lie in an earlier beat than their
// check are read from registers). The IPv4 checksum is accumulated per beat
// in one's-complement carry-save form (two 16-bit vectors, end-around carry)
// for both Ethernet lengths (14, and 18 with a VLAN tag), so no word select
// waits for the tag; which words of a beat are IP header words is registered
// a beat ahead, so no compare sits in front of the adders. The verdict stage
// takes the beat a cycle later, with its flags: it tests the accumulated
// checksum of the tag the frame had, applies the drop-reason priority to
// registered flags only, and emits.

module udp_rx_filter #(
    parameter DATA_WIDTH = 64,
    parameter KEEP_WIDTH = DATA_WIDTH/8
) (
    input  wire                  clk,
    input  wire                  rst,

    input  wire [DATA_WIDTH-1:0] s_axis_tdata,
    input  wire [KEEP_WIDTH-1:0] s_axis_tkeep,
    input  wire                  s_axis_tvalid,
    output wire                  s_axis_tready,
    input  wire                  s_axis_tlast,
    input  wire                  s_axis_tuser,

    output reg  [DATA_WIDTH-1:0] m_axis_tdata,
    output reg  [KEEP_WIDTH-1:0] m_axis_tkeep,
    output wire                  m_axis_tvalid,
    input  wire                  m_axis_tready,
    output reg                   m_axis_tlast,
    output reg                   m_axis_tuser,

    input  wire                  cfg_enable,
    input  wire [31:0]           cfg_dest_ip,
    input  wire [15:0]           cfg_dest_port,

    output reg                   stat_frame_in,
    output reg                   stat_frame_passed,
    output reg                   stat_drop_not_ipv4,
    output reg                   stat_drop_fragment,
    output reg                   stat_drop_checksum,
    output reg                   stat_drop_not_udp,
    output reg                   stat_drop_length,
    output reg                   stat_drop_filtered,
    output reg                   stat_drop_runt,
    output reg                   stat_drop_frame_error,
    output reg                   stat_drop_truncated
);

initial begin
    if (DATA_WIDTH != 32 && DATA_WIDTH != 64 && DATA_WIDTH != 128) begin
        $error("udp_rx_filter: DATA_WIDTH must be 32, 64 or 128");
        $finish;
    end
    if (KEEP_WIDTH*8 != DATA_WIDTH) begin
        $error("udp_rx_filter: KEEP_WIDTH must be DATA_WIDTH/8");
        $finish;
    end
end

// Longest header: Ethernet with 802.1Q (18) + IPv4 with options (60) + UDP (8).
localparam HDR_BYTES = 86;
localparam PTR_WIDTH = 17;  // frame byte offsets up to 18 + 65535
localparam LOG_KEEP = $clog2(KEEP_WIDTH);
localparam HDR_BEATS = (HDR_BYTES + KEEP_WIDTH - 1) / KEEP_WIDTH;
localparam WORDS = KEEP_WIDTH / 2;
localparam CSA_OPS = WORDS + 2;

localparam [3:0] V_NONE      = 4'd0,
                 V_PASS      = 4'd1,
                 V_NOT_IPV4  = 4'd2,
                 V_FRAGMENT  = 4'd3,
                 V_CHECKSUM  = 4'd4,
                 V_NOT_UDP   = 4'd5,
                 V_LENGTH    = 4'd6,
                 V_FILTERED  = 4'd7;

reg  [HDR_BYTES*8-1:0] hdr_reg;
reg  [PTR_WIDTH-1:0]   beat_ptr;      // frame offset of the incoming beat's lane 0
reg  [5:0]             hdr_beat;      // beat number within the frame, saturating past the header
reg  [HDR_BEATS-1:0]   hdr_beat_is;   // one-hot hdr_beat while in the header, for the byte merge

// Registered from the header bytes seen so far (valid once their bytes are in).
reg                    vlan_reg;
reg                    ihl_ok_reg;
reg  [3:0]             udp_slot_reg;  // UDP header at frame offset 34 + 4*slot
reg  [11:0]            udp_slot_is;   // one-hot udp_slot_reg, for the field selects
reg                    fragment_reg;
reg                    not_udp_reg;
reg                    short_reg;     // IP total length below IHL*4 + 8
reg  [15:0]            udp_len_want_reg;
reg  [PTR_WIDTH-1:0]   payload_end_reg;
// Per Ethernet length (bits [WORDS*h +: WORDS], [16h+15:16h]; h = 1: with a tag):
reg  [2*WORDS-1:0]     csum_word_en;  // the incoming beat's 16-bit words that are IP header words
reg  [31:0]            csum_s, csum_c;  // carry-save one's-complement sum of the IP words so far
wire [31:0]            csum_s_next, csum_c_next;

// The beat in the verdict stage, with what the check stage found in it.
reg                    chk_valid;
reg  [DATA_WIDTH-1:0]  chk_data;
reg  [KEEP_WIDTH-1:0]  chk_payload_keep;
reg                    chk_first, chk_last, chk_user, chk_ends_payload, chk_truncated;
reg                    chk_not_ethertype_ipv4, chk_have_ip20, chk_have_ip, chk_have_udp;
reg                    chk_udp_length_bad, chk_ip_dest_match, chk_udp_port_match;

// Verdict stage state.
reg                    decided;       // verdict for this frame already made
reg                    passing;       // ... and it was pass
reg                    payload_done;  // last payload byte already forwarded
reg                    out_valid;
reg                    out_hold;      // last payload beat waits for the frame's end

assign m_axis_tvalid = out_valid && !out_hold;
wire out_free = !out_valid || (m_axis_tready && !out_hold);
// While holding, the rest of the frame is padding and produces no output.
wire chk_take = chk_valid && (out_free || out_hold);
assign s_axis_tready = !chk_valid || chk_take;
wire s_fire = s_axis_tvalid && s_axis_tready;

// ---- check stage: header view, bytes seen so far merged with the incoming beat ----
wire [HDR_BYTES*8-1:0] hv;
genvar g;
generate
    for (g = 0; g < HDR_BYTES; g = g + 1) begin : g_hdr_view
        localparam integer BEAT = g / KEEP_WIDTH;
        assign hv[g*8 +: 8] = hdr_beat_is[BEAT]
                              ? s_axis_tdata[(g % KEEP_WIDTH)*8 +: 8] : hdr_reg[g*8 +: 8];
    end
endgenerate

// Byte p of the frame is in: in an earlier beat, or in this one and kept
// (every non-last beat is full; the last one's kept lanes start at lane 0).
function have_byte;
    input [5:0] beat;
    input [5:0] p_beat;
    input [LOG_KEEP-1:0] p_lane;
    input last;
    input [KEEP_WIDTH-1:0] keep;
    begin
        have_byte = beat > p_beat || (beat == p_beat && (!last || keep[p_lane]));
    end
endfunction

function have_at;
    input [5:0] beat;
    input integer p;
    input last;
    input [KEEP_WIDTH-1:0] keep;
    reg [31:0] p_beat, p_lane;
    begin
        p_beat = p / KEEP_WIDTH;
        p_lane = p % KEEP_WIDTH;
        have_at = have_byte(beat, p_beat[5:0], p_lane[LOG_KEEP-1:0], last, keep);
    end
endfunction

// Fields at fixed offsets, through the merged view (their beat may be this one).
// The tag (bytes 12-13) may share a beat with the Ethernet type, which reads
// it through the view. Every later field reads the registered tag: offset 16
// on lies in a later beat at every width, and the version/IHL byte only feeds
// registers that are read at the IP header's end, beats after the tag's.
wire        vlan_now  = {hv[12*8 +: 8], hv[13*8 +: 8]} == 16'h8100;
wire [15:0] ethertype = vlan_now ? {hv[16*8 +: 8], hv[17*8 +: 8]} : {hv[12*8 +: 8], hv[13*8 +: 8]};
wire [7:0]  ver_ihl   = vlan_reg ? hv[18*8 +: 8] : hv[14*8 +: 8];
wire [15:0] ip_total  = vlan_reg ? {hv[20*8 +: 8], hv[21*8 +: 8]} : {hv[16*8 +: 8], hv[17*8 +: 8]};
wire [15:0] ip_frag   = vlan_reg ? {hv[24*8 +: 8], hv[25*8 +: 8]} : {hv[20*8 +: 8], hv[21*8 +: 8]};
wire [7:0]  ip_proto  = vlan_reg ? hv[27*8 +: 8] : hv[23*8 +: 8];
wire [31:0] ip_dest   = vlan_reg ? {hv[34*8 +: 8], hv[35*8 +: 8], hv[36*8 +: 8], hv[37*8 +: 8]}
                                   : {hv[30*8 +: 8], hv[31*8 +: 8], hv[32*8 +: 8], hv[33*8 +: 8]};
wire [3:0]  ihl       = ver_ihl[3:0];
wire [4:0]  eth_len   = vlan_reg ? 5'd18 : 5'd14;
wire [5:0]  ip_hdr_len = {ihl, 2'b00};

// UDP header fields: twelve possible places, compared in each and the
// comparison chosen by the registered one-hot slot (an AND-OR, no wide mux).
reg udp_port_match, udp_length_bad;
integer u;
always @* begin
    udp_port_match = 1'b0;
    udp_length_bad = 1'b0;
    for (u = 0; u < 12; u = u + 1) begin
        udp_port_match = udp_port_match || (udp_slot_is[u]
            && {hv[(34+4*u+2)*8 +: 8], hv[(34+4*u+3)*8 +: 8]} == cfg_dest_port);
        udp_length_bad = udp_length_bad || (udp_slot_is[u]
            && {hv[(34+4*u+4)*8 +: 8], hv[(34+4*u+5)*8 +: 8]} != udp_len_want_reg);
    end
end

// ---- IPv4 checksum: this beat's header words added to each carry-save pair ----
// The IP header words of the beat with one-hot number beat_is, for an
// Ethernet header of eth bytes. A word's frame offset is a constant per beat
// and lane, so the header's end is a compare of the IHL with a constant; the
// first 20 header bytes need no IHL. Registered a beat ahead: the words past
// those 20 bytes lie in a later beat than the IHL byte at every width.
function [WORDS-1:0] ip_header_words;
    input integer eth;
    input [HDR_BEATS-1:0] beat_is;
    input [3:0] ihl_field;  // the IHL as the frame has it, valid from its beat on
    reg [15:0] ihl_above;   // thermometer: bit k set when the IHL is above k
    integer b, w, at, v;
    begin
        // a table of the IHL (constants only: no adder or carry chain)
        ihl_above = 16'd0;
        for (v = 0; v < 16; v = v + 1)
            if (ihl_field == v[3:0])
                ihl_above = 16'hFFFF >> (16 - v);
        ip_header_words = {WORDS{1'b0}};
        for (b = 0; b < HDR_BEATS; b = b + 1)
            for (w = 0; w < WORDS; w = w + 1) begin
                at = b*KEEP_WIDTH + 2*w;
                // the word's header offset at - eth is inside the header when below 4 * IHL
                if (beat_is[b] && at >= eth && (at < eth + 20 || (at < eth + 60 && ihl_above[(at - eth) / 4])))
                    ip_header_words[w] = 1'b1;
            end
    end
endfunction

localparam [HDR_BEATS-1:0] FIRST_BEAT = 1;
wire [HDR_BEATS-1:0] next_beat_is = s_axis_tlast ? FIRST_BEAT : hdr_beat_is << 1;

// A frame's first beat starts from zero.
generate
    for (g = 0; g < 2; g = g + 1) begin : g_csum
        reg [16*CSA_OPS-1:0] csa_q;
        reg [15:0] csa_x, csa_y, csa_z, csa_carry;
        integer w, r;
        always @* begin
            csa_q = 0;
            csa_q[0 +: 16] = hdr_beat_is[0] ? 16'd0 : csum_s[g*16 +: 16];
            csa_q[16 +: 16] = hdr_beat_is[0] ? 16'd0 : csum_c[g*16 +: 16];
            for (w = 0; w < WORDS; w = w + 1)
                if (csum_word_en[g*WORDS + w])
                    csa_q[(w+2)*16 +: 16] = {s_axis_tdata[(2*w)*8 +: 8], s_axis_tdata[(2*w+1)*8 +: 8]};
            // Wallace order: the three oldest operands become two new ones at the end.
            // 2^16 = 1 mod 0xFFFF, so the carry out of bit 15 wraps to bit 0.
            for (r = 0; r < CSA_OPS - 2; r = r + 1) begin
                csa_x = csa_q[0 +: 16];
                csa_y = csa_q[16 +: 16];
                csa_z = csa_q[32 +: 16];
                csa_carry = (csa_x & csa_y) | (csa_x & csa_z) | (csa_y & csa_z);
                csa_q = csa_q >> 48;
                csa_q[(CSA_OPS-3-r)*16 +: 16] = csa_x ^ csa_y ^ csa_z;
                csa_q[(CSA_OPS-2-r)*16 +: 16] = {csa_carry[14:0], csa_carry[15]};
            end
        end
        assign csum_s_next[g*16 +: 16] = csa_q[0 +: 16];
        assign csum_c_next[g*16 +: 16] = csa_q[16 +: 16];
    end
endgenerate

// ---- checks, each in the beat that completes its bytes ----
wire last = s_axis_tlast;
wire [6:0] udp_base = 7'd34 + {1'b0, udp_slot_reg, 2'b00};
wire [6:0] ip_last  = udp_base - 7'd1;
wire [6:0] udp_last = udp_base + 7'd7;
wire [6:0] ip_last_beat = ip_last >> LOG_KEEP;
wire [6:0] udp_last_beat = udp_last >> LOG_KEEP;
wire have_eth  = vlan_now ? have_at(hdr_beat, 17, last, s_axis_tkeep) : have_at(hdr_beat, 13, last, s_axis_tkeep);
wire have_ip20 = vlan_reg ? have_at(hdr_beat, 37, last, s_axis_tkeep) : have_at(hdr_beat, 33, last, s_axis_tkeep);
wire have_ip   = have_ip20 && ihl_ok_reg
                 && have_byte(hdr_beat, ip_last_beat[5:0], ip_last[LOG_KEEP-1:0], last, s_axis_tkeep);
wire have_udp  = have_ip
                 && have_byte(hdr_beat, udp_last_beat[5:0], udp_last[LOG_KEEP-1:0], last, s_axis_tkeep);

wire [PTR_WIDTH-1:0] payload_start = {{(PTR_WIDTH-7){1'b0}}, udp_base + 7'd8};

// beat_ptr moves by whole beats, so a lane's offset is the lane number in its
// low bits: no adder before the compares. A last beat's kept lanes start at
// lane 0, so it is truncated when a lane before the payload end is not kept
// (or the payload ends past the beat): no count of kept lanes.
wire beat_reaches_end = beat_ptr + KEEP_WIDTH[PTR_WIDTH-1:0] >= payload_end_reg;
reg [KEEP_WIDTH-1:0] lane_before_end, payload_keep;
reg [PTR_WIDTH-1:0]  lane_ptr;
integer l;
always @* begin
    for (l = 0; l < KEEP_WIDTH; l = l + 1) begin
        lane_ptr = {beat_ptr[PTR_WIDTH-1:LOG_KEEP], l[LOG_KEEP-1:0]};
        lane_before_end[l] = lane_ptr < payload_end_reg;
        payload_keep[l] = s_axis_tkeep[l] && lane_ptr >= payload_start && lane_before_end[l];
    end
end

always @(posedge clk) begin
    if (chk_take)
        chk_valid <= 1'b0;

    if (s_fire) begin
        hdr_reg <= hv;
        if (beat_ptr < {PTR_WIDTH{1'b1}} - KEEP_WIDTH[PTR_WIDTH-1:0])
            beat_ptr <= beat_ptr + KEEP_WIDTH[PTR_WIDTH-1:0];
        if (hdr_beat <= HDR_BEATS[5:0])
            hdr_beat <= hdr_beat + 1'b1;
        hdr_beat_is <= hdr_beat_is << 1;
        vlan_reg <= vlan_now;
        ihl_ok_reg <= ver_ihl[7:4] == 4'd4 && ihl >= 4'd5;
        udp_slot_reg <= ihl - 4'd5 + {3'd0, vlan_reg};
        udp_slot_is <= 12'd1 << (ihl - 4'd5 + {3'd0, vlan_reg});
        fragment_reg <= ip_frag[13] || ip_frag[12:0] != 0;
        not_udp_reg <= ip_proto != 8'd17;
        short_reg <= ip_total < {10'd0, ip_hdr_len} + 16'd8;
        udp_len_want_reg <= ip_total - {10'd0, ip_hdr_len};
        payload_end_reg <= {{(PTR_WIDTH-5){1'b0}}, eth_len} + {1'b0, ip_total};
        csum_s <= csum_s_next;
        csum_c <= csum_c_next;
        csum_word_en <= {ip_header_words(18, next_beat_is, hv[18*8 +: 4]),
                         ip_header_words(14, next_beat_is, hv[14*8 +: 4])};

        chk_valid <= 1'b1;
        chk_data <= s_axis_tdata;
        chk_payload_keep <= payload_keep;
        chk_first <= beat_ptr == 0;
        chk_last <= s_axis_tlast;
        chk_user <= s_axis_tuser;
        chk_ends_payload <= s_axis_tlast || beat_reaches_end;
        chk_truncated <= !beat_reaches_end || (lane_before_end & ~s_axis_tkeep) != 0;
        chk_not_ethertype_ipv4 <= have_eth && ethertype != 16'h0800;
        chk_have_ip20 <= have_ip20;
        chk_have_ip <= have_ip;
        chk_have_udp <= have_udp;
        chk_udp_length_bad <= udp_length_bad;
        chk_ip_dest_match <= ip_dest == cfg_dest_ip;
        chk_udp_port_match <= udp_port_match;

        if (s_axis_tlast) begin
            beat_ptr <= 0;
            hdr_beat <= 0;
            hdr_beat_is <= 1;
        end
    end

    if (rst) begin
        beat_ptr <= 0;
        hdr_beat <= 0;
        hdr_beat_is <= 1;
        csum_word_en <= {ip_header_words(18, FIRST_BEAT, 4'd0), ip_header_words(14, FIRST_BEAT, 4'd0)};
        chk_valid <= 1'b0;
    end
end

// ---- verdict stage: the beat's flags in priority order, then emit ----
// A header (nonzero: version 4) is correct when its sum is 0 mod 0xFFFF, and
// s + c lies in [0, 0x1FFFE]: 0, 0xFFFF (c = ~s) or 0x1FFFE (both all ones).
// The sums hold the verdict-stage beat's words: the check stage takes no
// other beat until this one moves on.
wire [15:0] sum_s = vlan_reg ? csum_s[31:16] : csum_s[15:0];
wire [15:0] sum_c = vlan_reg ? csum_c[31:16] : csum_c[15:0];
wire csum_ok = (sum_s ^ sum_c) == 16'hFFFF || (sum_s & sum_c) == 16'hFFFF || (sum_s | sum_c) == 16'h0000;

reg [3:0] header_verdict;
always @* begin
    header_verdict = V_NONE;
    if (chk_not_ethertype_ipv4)
        header_verdict = V_NOT_IPV4;
    else if (chk_have_ip20 && !ihl_ok_reg)
        header_verdict = V_NOT_IPV4;
    else if (chk_have_ip && fragment_reg)
        header_verdict = V_FRAGMENT;
    else if (chk_have_ip && !csum_ok)
        header_verdict = V_CHECKSUM;
    else if (chk_have_ip && not_udp_reg)
        header_verdict = V_NOT_UDP;
    else if (chk_have_ip && short_reg)
        header_verdict = V_LENGTH;
    else if (chk_have_udp && chk_udp_length_bad)
        header_verdict = V_LENGTH;
    else if (chk_have_udp && !(cfg_enable && chk_ip_dest_match && chk_udp_port_match))
        header_verdict = V_FILTERED;
    else if (chk_have_udp)
        header_verdict = V_PASS;
end

// Whether the header is decided (any verdict) and whether it passes (every
// check), as flat ORs and ANDs of the flags with the checksum one term of
// each: the priority order above only names the drop reason, and the
// output's enables do not wait on it.
wire header_known = chk_not_ethertype_ipv4 || (chk_have_ip20 && !ihl_ok_reg)
                    || (chk_have_ip && (fragment_reg || !csum_ok || not_udp_reg || short_reg))
                    || chk_have_udp;
wire header_pass  = chk_have_udp && csum_ok && !chk_not_ethertype_ipv4 && ihl_ok_reg
                    && !fragment_reg && !not_udp_reg && !short_reg && !chk_udp_length_bad
                    && cfg_enable && chk_ip_dest_match && chk_udp_port_match;
wire deciding_now = !decided && header_known;
wire passing_now  = decided ? passing : header_pass;
wire frame_bad    = chk_user || chk_truncated;
wire emit         = passing_now && !payload_done && (chk_payload_keep != 0 || chk_ends_payload);

always @(posedge clk) begin
    stat_frame_in         <= 1'b0;
    stat_frame_passed     <= 1'b0;
    stat_drop_not_ipv4    <= 1'b0;
    stat_drop_fragment    <= 1'b0;
    stat_drop_checksum    <= 1'b0;
    stat_drop_not_udp     <= 1'b0;
    stat_drop_length      <= 1'b0;
    stat_drop_filtered    <= 1'b0;
    stat_drop_runt        <= 1'b0;
    stat_drop_frame_error <= 1'b0;
    stat_drop_truncated   <= 1'b0;

    if (m_axis_tvalid && m_axis_tready)
        out_valid <= 1'b0;

    if (chk_take) begin
        stat_frame_in <= chk_first;

        if (deciding_now) begin
            decided <= 1'b1;
            passing <= header_pass;
            case (header_verdict)
                V_NOT_IPV4: stat_drop_not_ipv4 <= 1'b1;
                V_FRAGMENT: stat_drop_fragment <= 1'b1;
                V_CHECKSUM: stat_drop_checksum <= 1'b1;
                V_NOT_UDP:  stat_drop_not_udp  <= 1'b1;
                V_LENGTH:   stat_drop_length   <= 1'b1;
                V_FILTERED: stat_drop_filtered <= 1'b1;
                default: ;
            endcase
        end

        if (emit) begin
            m_axis_tdata <= chk_data;
            m_axis_tkeep <= chk_payload_keep;
            m_axis_tlast <= chk_ends_payload;
            m_axis_tuser <= chk_last && frame_bad;
            out_valid <= 1'b1;
            out_hold <= chk_ends_payload && !chk_last;
            payload_done <= chk_ends_payload;
        end else if (out_hold && chk_last) begin
            m_axis_tuser <= chk_user;
            out_hold <= 1'b0;
        end

        if (chk_last) begin
            if (passing_now) begin
                if (chk_user)
                    stat_drop_frame_error <= 1'b1;
                else if (chk_truncated)
                    stat_drop_truncated <= 1'b1;
                else
                    stat_frame_passed <= 1'b1;
            end else if (!decided && !header_known) begin
                if (chk_user)
                    stat_drop_frame_error <= 1'b1;
                else
                    stat_drop_runt <= 1'b1;
            end
            decided <= 1'b0;
            passing <= 1'b0;
            payload_done <= 1'b0;
        end
    end

    if (rst) begin
        decided <= 1'b0;
        passing <= 1'b0;
        payload_done <= 1'b0;
        out_valid <= 1'b0;
        out_hold <= 1'b0;
        stat_frame_in <= 1'b0;
        stat_frame_passed <= 1'b0;
        stat_drop_not_ipv4 <= 1'b0;
        stat_drop_fragment <= 1'b0;
        stat_drop_checksum <= 1'b0;
        stat_drop_not_udp <= 1'b0;
        stat_drop_length <= 1'b0;
        stat_drop_filtered <= 1'b0;
        stat_drop_runt <= 1'b0;
        stat_drop_frame_error <= 1'b0;
        stat_drop_truncated <= 1'b0;
    end
end

endmodule
